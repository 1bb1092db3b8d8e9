import { execFileSync } from 'node:child_process';

/** A user name and password for a registry's basic auth. */
export interface RegistryCredentials {
  readonly user: string;
  readonly password: string;
}

/** The credentials the test registries use unless a test picks its own. */
export const testRegistryCredentials = { user: 'kubeplug', password: 'kubeplug-test-password' } as const satisfies RegistryCredentials;

/**
 * The htpasswd line of {@link testRegistryCredentials}: bcrypt at cost 4 (the
 * cheapest, since the registry checks it on every request), made once with
 * `python3 -c "import crypt; crypt.crypt('kubeplug-test-password',
 * crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))"`. Shipped as test data because
 * Node has no bcrypt and Debian's htpasswd (apache2-utils) is not installed here.
 */
const testCredentialsLine = 'kubeplug:$2b$04$K6io9G4OrOwlOaZcIOBtNuZPKGT.LTeWO9dWXrB6OjLLrLCAImyFO';

/** Runs a bcrypt hasher; undefined when the tool is missing or fails. */
function tryHash(command: string, args: readonly string[], input?: string): string | undefined {
  try {
    return execFileSync(command, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/**
 * An htpasswd line (`user:$2b$…`) the registry's htpasswd auth accepts, which
 * must be bcrypt. The test credentials use the shipped line; others are hashed
 * with `htpasswd -B` or Python's crypt (libxcrypt), whichever is present.
 */
export function htpasswdLine(credentials: RegistryCredentials): string {
  if (credentials.user.includes(':')) throw new Error('an htpasswd user name cannot contain ":"');
  if (credentials.user === testRegistryCredentials.user && credentials.password === testRegistryCredentials.password) return testCredentialsLine;
  const fromHtpasswd = tryHash('htpasswd', ['-nbB', '-C', '4', credentials.user, credentials.password]);
  if (fromHtpasswd !== undefined && fromHtpasswd.startsWith(`${credentials.user}:$2`)) return fromHtpasswd;
  // The password travels on stdin so it is not visible in the process list.
  const script = "import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))";
  const fromPython = tryHash('python3', ['-W', 'ignore', '-c', script], credentials.password);
  if (fromPython !== undefined && fromPython.startsWith('$2')) return `${credentials.user}:${fromPython}`;
  throw new Error('no bcrypt hasher found (htpasswd from apache2-utils, or python3 with crypt); use testRegistryCredentials');
}
