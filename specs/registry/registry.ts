import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSpec, SpecFormatError } from './parse-spec.js';
import { interfaceNames, type InterfaceName, type Requirement } from './requirement.js';

/** Every requirement of every interface, looked up by ID. */
export class RequirementRegistry {
  readonly #byId = new Map<string, Requirement>();

  constructor(requirements: Iterable<Requirement>) {
    for (const requirement of requirements) {
      const earlier = this.#byId.get(requirement.id);
      if (earlier !== undefined) {
        throw new SpecFormatError(
          requirement.location.file,
          requirement.location.line,
          `${requirement.id} is declared twice (first at ${earlier.location.file}:${earlier.location.line})`,
        );
      }
      this.#byId.set(requirement.id, requirement);
    }
  }

  get(id: string): Requirement | undefined {
    return this.#byId.get(id);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** All requirements in the order the specs state them, optionally of one interface. */
  list(iface?: InterfaceName): Requirement[] {
    const all = [...this.#byId.values()];
    return iface === undefined ? all : all.filter((requirement) => requirement.iface === iface);
  }
}

/** The folder holding `specs/`, found from this module whether it runs from source or from dist/. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && fs.existsSync(path.join(dir, 'specs'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the kubeplug package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** The path of an interface's SPEC.md. */
export function specPath(iface: InterfaceName, root = packageRoot()): string {
  return path.join(root, 'specs', iface, 'SPEC.md');
}

/** Reads every SPEC.md into one registry; IDs must be unique across all of them. */
export function loadRegistry(root = packageRoot()): RequirementRegistry {
  const requirements = interfaceNames.flatMap((iface) => {
    const file = specPath(iface, root);
    return parseSpec(iface, path.relative(root, file), fs.readFileSync(file, 'utf8'));
  });
  return new RequirementRegistry(requirements);
}
