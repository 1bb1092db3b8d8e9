/** Which rule a plugin name breaks. */
export type PluginNameRule = 'required' | 'length' | 'characters' | 'labels';

/** One way in which a plugin name breaks CSI's naming rules. */
export interface PluginNameProblem {
  readonly rule: PluginNameRule;
  readonly message: string;
}

/** Longest plugin name CSI allows, in characters. */
export const maxPluginNameLength = 63;

const alphanumeric = /^[A-Za-z0-9]$/;
const allowedCharacters = /^[A-Za-z0-9.-]*$/;

/**
 * Checks a name from GetPluginInfo against CSI's rules and returns every
 * problem found (empty when the name is valid).
 *
 * @see CSI-IDENT-002 present
 * @see CSI-IDENT-003 at most 63 characters
 * @see CSI-IDENT-004 alphanumeric at both ends, only alphanumerics, '-' and '.' between
 * @see CSI-IDENT-005 domain-name notation: dot-separated labels, none empty or edged by '-'
 */
export function checkPluginName(name: string): PluginNameProblem[] {
  if (name === '') return [{ rule: 'required', message: 'name is empty' }];
  const problems: PluginNameProblem[] = [];
  const length = [...name].length;
  if (length > maxPluginNameLength) {
    problems.push({ rule: 'length', message: `name has ${length} characters; at most ${maxPluginNameLength} are allowed` });
  }
  const first = name[0] ?? '';
  const last = name[name.length - 1] ?? '';
  if (!allowedCharacters.test(name) || !alphanumeric.test(first) || !alphanumeric.test(last)) {
    problems.push({
      rule: 'characters',
      message: 'name must begin and end with [A-Za-z0-9] and hold only alphanumerics, "-" and "." between',
    });
  }
  const badLabel = name.split('.').find((label) => label === '' || label.startsWith('-') || label.endsWith('-'));
  if (badLabel !== undefined) {
    problems.push({
      rule: 'labels',
      message: `name is not in domain-name notation: label ${JSON.stringify(badLabel)} is empty or begins or ends with "-"`,
    });
  }
  return problems;
}
