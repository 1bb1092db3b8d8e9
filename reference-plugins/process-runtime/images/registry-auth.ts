import { RegistryError } from './image-errors.js';
import { httpRequest, readBody, type HttpRequestOptions, type HttpResponse } from './registry-http.js';

/**
 * Credentials for one pull, shaped like CRI's AuthConfig: a user name and
 * password, or `auth` (base64 of `user:password`), or an identity token (an
 * OAuth2 refresh token), or a registry token (a bearer token sent as is).
 */
export interface RegistryAuth {
  username?: string;
  password?: string;
  auth?: string;
  identityToken?: string;
  registryToken?: string;
}

/** One challenge of a `WWW-Authenticate` header. */
export interface AuthChallenge {
  /** Lower-cased scheme: `basic`, `bearer`. */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses `WWW-Authenticate` (RFC 7235): one or more challenges, each a scheme
 * followed by comma-separated `key=value` or `key="quoted value"` params.
 */
export function parseAuthenticateHeader(header: string): AuthChallenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let index = 0;
  const skipSpaces = (): void => {
    while (index < header.length && /[\s,]/.test(header[index]!)) index += 1;
  };
  while (index < header.length) {
    skipSpaces();
    const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(header.slice(index));
    if (token === null) break;
    index += token[0].length;
    if (header[index] === '=') {
      // A param of the current challenge.
      index += 1;
      let value = '';
      if (header[index] === '"') {
        index += 1;
        while (index < header.length && header[index] !== '"') {
          if (header[index] === '\\') index += 1;
          value += header[index] ?? '';
          index += 1;
        }
        index += 1;
      } else {
        const bare = /^[^,\s]*/.exec(header.slice(index))![0];
        value = bare;
        index += bare.length;
      }
      const current = challenges[challenges.length - 1];
      if (current !== undefined) current.params[token[0].toLowerCase()] = value;
    } else {
      challenges.push({ scheme: token[0].toLowerCase(), params: {} });
    }
  }
  return challenges;
}

/** The username and password in `auth`, when the credentials carry them. */
export function basicCredentialsOf(auth: RegistryAuth | undefined): { username: string; password: string } | undefined {
  if (auth === undefined) return undefined;
  if (auth.username !== undefined && auth.username !== '') return { username: auth.username, password: auth.password ?? '' };
  if (auth.auth !== undefined && auth.auth !== '') {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}

function basicHeader(credentials: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

interface CachedAuthorization {
  readonly header: string;
  readonly expiresAt: number;
}

/** Options for {@link RegistryAuthenticator}. */
export interface RegistryAuthenticatorOptions {
  timeoutMs: number;
  /** For tests: the clock, in ms. */
  now?: () => number;
  /** For tests: the HTTP transport. */
  send?: (options: HttpRequestOptions) => Promise<HttpResponse>;
}

const defaultTokenLifetimeSeconds = 60;
// Refresh a little early so a token does not expire between our check and the registry's.
const expirySlackMs = 5_000;

/**
 * Answers registry challenges and remembers the answers, so one token serves
 * every request of a pull (and later pulls) until it expires. Safe to share
 * between concurrent pulls: concurrent requests for the same token share one
 * token request.
 */
export class RegistryAuthenticator {
  readonly #cache = new Map<string, CachedAuthorization>();
  readonly #pending = new Map<string, Promise<string>>();
  readonly #options: RegistryAuthenticatorOptions;

  constructor(options: RegistryAuthenticatorOptions) {
    this.#options = options;
  }

  /** The Authorization header already earned for this host, scope and credentials, if still valid. */
  cached(host: string, scope: string, auth: RegistryAuth | undefined): string | undefined {
    const hit = this.#cache.get(cacheKey(host, scope, auth));
    if (hit === undefined) return undefined;
    if (hit.expiresAt <= this.#now()) {
      this.#cache.delete(cacheKey(host, scope, auth));
      return undefined;
    }
    return hit.header;
  }

  /** Forgets what was cached for this host and scope (after the registry refused it). */
  forget(host: string, scope: string, auth: RegistryAuth | undefined): void {
    this.#cache.delete(cacheKey(host, scope, auth));
  }

  /**
   * Answers a 401's challenges with an Authorization header value: Basic
   * with the credentials, or Bearer with a token from the challenge's realm.
   */
  async authorize(options: { host: string; scope: string; challenges: readonly AuthChallenge[]; auth: RegistryAuth | undefined; url: string }): Promise<string> {
    const key = cacheKey(options.host, options.scope, options.auth);
    const pending = this.#pending.get(key);
    if (pending !== undefined) return pending;
    const promise = this.#answer(options).finally(() => this.#pending.delete(key));
    this.#pending.set(key, promise);
    return promise;
  }

  async #answer(options: { host: string; scope: string; challenges: readonly AuthChallenge[]; auth: RegistryAuth | undefined; url: string }): Promise<string> {
    const key = cacheKey(options.host, options.scope, options.auth);
    const bearer = options.challenges.find((challenge) => challenge.scheme === 'bearer');
    const basic = options.challenges.find((challenge) => challenge.scheme === 'basic');
    if (bearer !== undefined) {
      const { header, lifetimeSeconds } = await this.#bearerToken(bearer, options);
      this.#cache.set(key, { header, expiresAt: this.#now() + lifetimeSeconds * 1000 - expirySlackMs });
      return header;
    }
    if (basic !== undefined) {
      const credentials = basicCredentialsOf(options.auth);
      if (credentials === undefined) {
        throw new RegistryError({ kind: 'unauthorized', message: `GET ${options.url}: the registry asks for basic authentication and no credentials were given`, url: options.url, status: 401 });
      }
      const header = basicHeader(credentials);
      this.#cache.set(key, { header, expiresAt: Number.POSITIVE_INFINITY });
      return header;
    }
    const schemes = options.challenges.map((challenge) => challenge.scheme).join(', ') || 'none';
    throw new RegistryError({ kind: 'unauthorized', message: `GET ${options.url}: unsupported authentication challenge (${schemes})`, url: options.url, status: 401 });
  }

  async #bearerToken(
    challenge: AuthChallenge,
    options: { scope: string; auth: RegistryAuth | undefined; url: string },
  ): Promise<{ header: string; lifetimeSeconds: number }> {
    const auth = options.auth;
    if (auth?.registryToken !== undefined && auth.registryToken !== '') {
      return { header: `Bearer ${auth.registryToken}`, lifetimeSeconds: Number.POSITIVE_INFINITY };
    }
    const realm = challenge.params.realm;
    if (realm === undefined || realm === '') {
      throw new RegistryError({ kind: 'unauthorized', message: `GET ${options.url}: bearer challenge without a realm`, url: options.url, status: 401 });
    }
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch (error) {
      throw new RegistryError({ kind: 'unauthorized', message: `GET ${options.url}: bearer realm ${JSON.stringify(realm)} is not a URL`, url: options.url, status: 401, cause: error });
    }
    const service = challenge.params.service;
    const scope = challenge.params.scope ?? options.scope;
    const send = this.#options.send ?? httpRequest;
    let response: HttpResponse;
    if (auth?.identityToken !== undefined && auth.identityToken !== '') {
      // OAuth2 refresh-token grant, as docker's client sends for an identity token.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.identityToken, client_id: 'kubeplug', scope });
      if (service !== undefined) form.set('service', service);
      response = await send({
        url: realmUrl.toString(),
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        timeoutMs: this.#options.timeoutMs,
      });
    } else {
      if (service !== undefined) realmUrl.searchParams.set('service', service);
      if (scope !== '') realmUrl.searchParams.set('scope', scope);
      const credentials = basicCredentialsOf(auth);
      response = await send({
        url: realmUrl.toString(),
        headers: credentials === undefined ? {} : { authorization: basicHeader(credentials) },
        timeoutMs: this.#options.timeoutMs,
      });
    }
    const body = await readBody(response, 1 << 20);
    if (response.status === 401 || response.status === 403) {
      throw new RegistryError({ kind: 'unauthorized', message: `token request to ${realmUrl.origin}${realmUrl.pathname} refused: HTTP ${response.status}`, url: realmUrl.toString(), status: response.status });
    }
    if (response.status !== 200) {
      throw new RegistryError({ kind: 'bad-response', message: `token request to ${realmUrl.origin}${realmUrl.pathname} failed: HTTP ${response.status}`, url: realmUrl.toString(), status: response.status });
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch (error) {
      throw new RegistryError({ kind: 'bad-response', message: `token response from ${realmUrl.origin}${realmUrl.pathname} is not JSON`, url: realmUrl.toString(), status: response.status, cause: error });
    }
    const token = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new RegistryError({ kind: 'bad-response', message: `token response from ${realmUrl.origin}${realmUrl.pathname} has no token`, url: realmUrl.toString(), status: response.status });
    }
    const lifetimeSeconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : defaultTokenLifetimeSeconds;
    return { header: `Bearer ${token}`, lifetimeSeconds };
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}

// Credentials are part of the key so two pulls with different secrets never share a token; the
// key stays in memory only.
function cacheKey(host: string, scope: string, auth: RegistryAuth | undefined): string {
  const identity = auth === undefined ? '' : JSON.stringify([auth.username, auth.password, auth.auth, auth.identityToken, auth.registryToken]);
  return `${host}\n${scope}\n${identity}`;
}
