import {
  bindingParties,
  idPrefixes,
  requirementIdPattern,
  requirementLevels,
  type BindingParty,
  type InterfaceName,
  type Requirement,
  type RequirementLevel,
} from './requirement.js';

/** A SPEC.md that does not follow the requirement format. */
export class SpecFormatError extends Error {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'SpecFormatError';
    this.file = file;
    this.line = line;
  }
}

/** A requirement heading: `### CSI-IDENT-001 (MUST) Title sentence`. */
const requirementHeading = /^### (\S+) \((\S+)\) (.+)$/;
const bulletField = /^- (Source|Not checked|Binds): (.+)$/;

/**
 * Reads one SPEC.md into requirements. Every `###` heading whose first word
 * looks like an ID must be a well-formed requirement with a level, a rule and
 * a `- Source:` line; anything less is a {@link SpecFormatError}, so a typo
 * cannot silently drop a rule from the registry.
 */
export function parseSpec(iface: InterfaceName, file: string, markdown: string): Requirement[] {
  const lines = markdown.split(/\r?\n/);
  const requirements: Requirement[] = [];
  let section = '';
  let current: { heading: RegExpExecArray; line: number; body: string[] } | undefined;
  let inFence = false;

  const finish = (): void => {
    if (current === undefined) return;
    requirements.push(buildRequirement(iface, file, section, current.heading, current.line, current.body));
    current = undefined;
  };

  lines.forEach((text, index) => {
    const lineNumber = index + 1;
    if (text.startsWith('```')) inFence = !inFence;
    if (inFence || !text.startsWith('#')) {
      current?.body.push(text);
      return;
    }
    finish();
    if (text.startsWith('## ')) {
      section = text.slice(3).trim();
      return;
    }
    if (!text.startsWith('### ')) return;
    const heading = requirementHeading.exec(text);
    const firstWord = text.slice(4).split(' ')[0] ?? '';
    if (heading === null) {
      if (/^[A-Z]+-[A-Z0-9-]+$/.test(firstWord)) {
        throw new SpecFormatError(file, lineNumber, `requirement heading must read "### ID (LEVEL) Title": ${text}`);
      }
      return;
    }
    current = { heading, line: lineNumber, body: [] };
  });
  finish();
  return requirements;
}

function buildRequirement(
  iface: InterfaceName,
  file: string,
  section: string,
  heading: RegExpExecArray,
  line: number,
  body: string[],
): Requirement {
  const [, id = '', level = '', title = ''] = heading;
  if (!requirementIdPattern.test(id)) {
    throw new SpecFormatError(file, line, `malformed requirement ID ${JSON.stringify(id)} (want PREFIX-AREA-NNN)`);
  }
  const prefix = id.split('-')[0];
  if (prefix !== idPrefixes[iface] && !(iface === 'cni' && prefix === 'KUBE')) {
    throw new SpecFormatError(file, line, `${id} does not belong in the ${iface} spec (want prefix ${idPrefixes[iface]}-)`);
  }
  if (!isLevel(level)) {
    throw new SpecFormatError(file, line, `${id}: level ${JSON.stringify(level)} is not one of ${requirementLevels.join(', ')}`);
  }
  const fields = new Map<string, string>();
  const prose: string[] = [];
  for (const text of body) {
    const field = bulletField.exec(text);
    if (field !== null) fields.set(field[1] ?? '', (field[2] ?? '').trim());
    else prose.push(text);
  }
  const rule = prose.join('\n').trim();
  const source = fields.get('Source');
  if (rule === '') throw new SpecFormatError(file, line, `${id}: the rule text is missing`);
  if (source === undefined) throw new SpecFormatError(file, line, `${id}: the "- Source:" line is missing`);
  const notChecked = fields.get('Not checked');
  const binds = fields.get('Binds') ?? 'plugin';
  if (!isBindingParty(binds)) {
    throw new SpecFormatError(file, line, `${id}: "- Binds: ${binds}" must name one of ${bindingParties.join(', ')}`);
  }
  return {
    id,
    iface,
    level,
    title: title.trim(),
    rule,
    source,
    binds,
    section,
    ...(notChecked === undefined ? {} : { notChecked }),
    location: { file, line },
  };
}

function isBindingParty(value: string): value is BindingParty {
  return (bindingParties as readonly string[]).includes(value);
}

function isLevel(value: string): value is RequirementLevel {
  return (requirementLevels as readonly string[]).includes(value);
}
