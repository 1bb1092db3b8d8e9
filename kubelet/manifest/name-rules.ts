/**
 * The name formats the API server checks: RFC 1123 labels and subdomains,
 * and IANA service names for ports.
 * Source: kubernetes/apimachinery pkg/util/validation/validation.go
 * (IsDNS1123Label, IsDNS1123Subdomain, IsValidPortName).
 */

const labelPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const subdomainPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why a name is not an RFC 1123 label, or undefined when it is one. */
export function dns1123LabelProblem(name: string): string | undefined {
  if (name.length > 63) return 'must be no more than 63 characters';
  if (!labelPattern.test(name)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** Why a name is not an RFC 1123 subdomain, or undefined when it is one. */
export function dns1123SubdomainProblem(name: string): string | undefined {
  if (name.length > 253) return 'must be no more than 253 characters';
  if (!subdomainPattern.test(name)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** Why a name is not an IANA_SVC_NAME (a port name), or undefined when it is one. */
export function portNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 15) return 'must be no more than 15 characters';
  if (!/^[-a-z0-9]+$/.test(name)) return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
  if (name.includes('--')) return "must not contain consecutive hyphens";
  if (!/[a-z]/.test(name)) return 'must contain at least one letter (a-z)';
  if (name.startsWith('-') || name.endsWith('-')) return 'must not begin or end with a hyphen';
  return undefined;
}

/** Why a number is not a valid port (1..65535), or undefined. */
export function portNumberProblem(port: number): string | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : 'must be between 1 and 65535, inclusive';
}
