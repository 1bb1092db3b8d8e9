import type { Certificate } from './certificate.js';

/** The certificate as pretty JSON, ending in a newline. */
export function renderJson(certificate: Certificate): string {
  return `${JSON.stringify(certificate, null, 2)}\n`;
}
