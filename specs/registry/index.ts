/** The requirement registry: every SPEC.md parsed into requirements with stable IDs. */
export {
  requirementLevels,
  interfaceNames,
  idPrefixes,
  bindingParties,
  type BindingParty,
  requirementIdPattern,
  type RequirementLevel,
  type InterfaceName,
  type Requirement,
} from './requirement.js';
export { parseSpec, SpecFormatError } from './parse-spec.js';
export { RequirementRegistry, loadRegistry, packageRoot, specPath } from './registry.js';
