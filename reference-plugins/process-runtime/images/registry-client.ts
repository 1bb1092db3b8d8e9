import crypto from 'node:crypto';
import { InvalidImageContentError, RegistryError } from './image-errors.js';
import type { ImageReference } from './image-reference.js';
import { defaultDomain } from './image-reference.js';
import { parseAuthenticateHeader, RegistryAuthenticator, type RegistryAuth } from './registry-auth.js';
import { discardBody, httpRequest, readBody, type HttpRequestOptions, type HttpResponse } from './registry-http.js';
import { hostPlatform, platformRank, type Platform } from './platform-match.js';

/** The manifest media types we ask for and read. */
export const manifestMediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const indexMediaTypes: ReadonlySet<string> = new Set([manifestMediaTypes.ociIndex, manifestMediaTypes.dockerManifestList]);
const imageManifestMediaTypes: ReadonlySet<string> = new Set([manifestMediaTypes.ociManifest, manifestMediaTypes.dockerManifest]);

/** A content descriptor (OCI image-spec descriptor.md). */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

/** An image manifest: one config and its layers, lowest first. */
export interface ImageManifest {
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

/** Raw manifest bytes as the registry sent them, with their digest. */
export interface FetchedManifest {
  readonly mediaType: string;
  readonly digest: string;
  readonly body: Buffer;
}

/** An image resolved from a reference: the digest the reference names (maybe an index) and the image manifest for this platform. */
export interface ResolvedImage {
  /** What the tag or digest points at: the index digest for a multi-platform image. */
  readonly targetDigest: string;
  /** Every manifest fetched on the way, index first. */
  readonly manifests: readonly FetchedManifest[];
  readonly manifest: ImageManifest;
  readonly manifestDigest: string;
}

/** Options for {@link RegistryClient}. */
export interface RegistryClientOptions {
  /** Registry host → base URL tried first (`docker.io` → `http://127.0.0.1:5000`). */
  registryMirrors?: Readonly<Record<string, string>>;
  /** Hosts reached over plain http. Loopback hosts always are, as docker treats them. */
  insecureRegistries?: readonly string[];
  /** Per request: until the headers come back, and then between body chunks. */
  timeoutMs?: number;
  /** The platform to pick from an image index; this host's by default. */
  platform?: Platform;
  authenticator?: RegistryAuthenticator;
}

const manifestLimitBytes = 4 << 20;
const acceptHeader = [
  manifestMediaTypes.ociIndex,
  manifestMediaTypes.ociManifest,
  manifestMediaTypes.dockerManifestList,
  manifestMediaTypes.dockerManifest,
].join(', ');

/**
 * A client of the registry HTTP API v2 (distribution spec): manifests, image
 * indexes resolved to this platform, and blobs, with Basic and Bearer
 * authentication, mirrors and insecure (http) registries.
 */
export class RegistryClient {
  readonly #options: RegistryClientOptions;
  readonly #timeoutMs: number;
  readonly #authenticator: RegistryAuthenticator;
  readonly #platform: Platform;

  constructor(options: RegistryClientOptions = {}) {
    this.#options = options;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#authenticator = options.authenticator ?? new RegistryAuthenticator({ timeoutMs: this.#timeoutMs });
    this.#platform = options.platform ?? hostPlatform();
  }

  /** The base URLs tried for a registry host, mirror first. */
  endpointsOf(domain: string): string[] {
    const endpoints: string[] = [];
    const mirror = this.#options.registryMirrors?.[domain];
    if (mirror !== undefined) endpoints.push(mirror.replace(/\/+$/, ''));
    if (domain === defaultDomain) endpoints.push('https://registry-1.docker.io');
    else endpoints.push(`${this.#isInsecure(domain) ? 'http' : 'https'}://${domain}`);
    return endpoints;
  }

  #isInsecure(domain: string): boolean {
    if (this.#options.insecureRegistries?.includes(domain) === true) return true;
    const host = domain.replace(/:[0-9]+$/, '');
    return host === 'localhost' || host === '[::1]' || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host);
  }

  /**
   * Resolves a reference to this platform's image manifest: fetches what the
   * tag or digest names and, for an image index, the best-matching entry.
   */
  async resolve(reference: ImageReference, auth?: RegistryAuth): Promise<ResolvedImage> {
    const top = await this.fetchManifest(reference, reference.digest ?? reference.tag ?? 'latest', auth);
    const manifests: FetchedManifest[] = [top];
    let current = top;
    for (let depth = 0; indexMediaTypes.has(current.mediaType); depth += 1) {
      if (depth >= 2) throw new InvalidImageContentError(`${reference.name}: image indexes nested too deeply`);
      const entry = this.#pickPlatform(reference, current);
      current = await this.fetchManifest(reference, entry.digest, auth);
      manifests.push(current);
    }
    if (!imageManifestMediaTypes.has(current.mediaType)) {
      throw new RegistryError({ kind: 'unsupported', message: `${reference.name}@${current.digest}: manifest media type ${current.mediaType} is not supported` });
    }
    return { targetDigest: top.digest, manifests, manifest: parseImageManifest(current, reference), manifestDigest: current.digest };
  }

  #pickPlatform(reference: ImageReference, index: FetchedManifest): Descriptor {
    const parsed = parseJson(index.body, `${reference.name}@${index.digest}`) as { manifests?: unknown };
    if (!Array.isArray(parsed.manifests)) throw new InvalidImageContentError(`${reference.name}@${index.digest}: image index has no manifests`);
    let best: { descriptor: Descriptor; rank: number } | undefined;
    for (const raw of parsed.manifests as unknown[]) {
      const descriptor = parseDescriptor(raw, `${reference.name}@${index.digest}`);
      if (descriptor.platform === undefined) continue;
      const rank = platformRank(descriptor.platform, this.#platform);
      if (rank !== undefined && (best === undefined || rank < best.rank)) best = { descriptor, rank };
    }
    if (best === undefined) {
      const wanted = [this.#platform.os, this.#platform.architecture, this.#platform.variant].filter((part) => part !== undefined).join('/');
      throw new RegistryError({ kind: 'no-matching-platform', message: `${reference.name}@${index.digest}: no manifest for platform ${wanted}` });
    }
    return best.descriptor;
  }

  /** GETs one manifest by tag or digest; a digest is verified against the bytes. */
  async fetchManifest(reference: ImageReference, tagOrDigest: string, auth?: RegistryAuth): Promise<FetchedManifest> {
    const response = await this.#get(reference, `/manifests/${tagOrDigest}`, { accept: acceptHeader }, auth);
    const body = await readBody(response, manifestLimitBytes);
    const digest = `sha256:${crypto.createHash('sha256').update(body).digest('hex')}`;
    if (tagOrDigest.startsWith('sha256:') && digest !== tagOrDigest) {
      throw new RegistryError({ kind: 'digest-mismatch', message: `GET ${response.url}: content has digest ${digest}, not ${tagOrDigest}`, url: response.url });
    }
    const headerType = (response.headers['content-type'] ?? '').split(';')[0]!.trim();
    const bodyType = (parseJson(body, response.url) as { mediaType?: unknown }).mediaType;
    const mediaType = typeof bodyType === 'string' && bodyType !== '' ? bodyType : headerType;
    return { mediaType, digest, body };
  }

  /**
   * GETs a blob and hands back the unread response (redirects followed);
   * the caller streams it and verifies digest and size.
   */
  async fetchBlob(reference: ImageReference, digest: string, auth?: RegistryAuth): Promise<HttpResponse> {
    return this.#get(reference, `/blobs/${digest}`, {}, auth);
  }

  async #get(reference: ImageReference, suffix: string, headers: Record<string, string>, auth: RegistryAuth | undefined): Promise<HttpResponse> {
    const endpoints = this.endpointsOf(reference.domain);
    const errors: unknown[] = [];
    for (const endpoint of endpoints) {
      try {
        return await this.#getFrom(endpoint, reference, suffix, headers, auth);
      } catch (error) {
        // A mirror that fails is skipped, as containerd's resolver moves on to the next host.
        if (error instanceof RegistryError && error.kind === 'digest-mismatch') throw error;
        errors.push(error);
      }
    }
    // An answer (404, 401…) says more than a host we could not reach: report the first one.
    throw errors.find((error) => !(error instanceof RegistryError && error.kind === 'unreachable')) ?? errors[errors.length - 1];
  }

  async #getFrom(endpoint: string, reference: ImageReference, suffix: string, headers: Record<string, string>, auth: RegistryAuth | undefined): Promise<HttpResponse> {
    const url = `${endpoint}/v2/${reference.path}${suffix}`;
    const host = new URL(url).host;
    const scope = `repository:${reference.path}:pull`;
    const send = (authorization: string | undefined): Promise<HttpResponse> => {
      const request: HttpRequestOptions = { url, headers: authorization === undefined ? headers : { ...headers, authorization }, timeoutMs: this.#timeoutMs };
      return httpRequest(request);
    };
    const cached = this.#authenticator.cached(host, scope, auth);
    let response = await send(cached);
    if (response.status === 401) {
      const challengeHeader = response.headers['www-authenticate'];
      discardBody(response);
      if (cached !== undefined) this.#authenticator.forget(host, scope, auth);
      const challenges = parseAuthenticateHeader(Array.isArray(challengeHeader) ? challengeHeader.join(', ') : challengeHeader ?? '');
      const authorization = await this.#authenticator.authorize({ host, scope, challenges, auth, url });
      response = await send(authorization);
      if (response.status === 401) {
        discardBody(response);
        this.#authenticator.forget(host, scope, auth);
        throw new RegistryError({ kind: 'unauthorized', message: `GET ${url}: HTTP 401 even with credentials`, url, status: 401 });
      }
    }
    if (response.status === 200) return response;
    const detail = await errorDetailOf(response);
    const kind = response.status === 404 ? 'not-found' : response.status === 403 ? 'forbidden' : response.status === 401 ? 'unauthorized' : 'bad-response';
    throw new RegistryError({ kind, message: `GET ${url}: HTTP ${response.status}${detail}`, url, status: response.status });
  }
}

async function errorDetailOf(response: HttpResponse): Promise<string> {
  try {
    const body = await readBody(response, 64 << 10);
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = parsed.errors?.[0];
    if (first !== undefined) return ` (${String(first.code)}: ${String(first.message)})`;
  } catch {
    // The status alone says enough.
  }
  return '';
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw new InvalidImageContentError(`${what}: not JSON (${(error as Error).message})`);
  }
}

/** Checks and reads a descriptor object. */
export function parseDescriptor(raw: unknown, what: string): Descriptor {
  const value = raw as Partial<Record<string, unknown>> | null;
  if (value === null || typeof value !== 'object') throw new InvalidImageContentError(`${what}: descriptor is not an object`);
  const { mediaType, digest, size, platform, annotations } = value;
  if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new InvalidImageContentError(`${what}: descriptor digest ${JSON.stringify(digest)} is not sha256`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new InvalidImageContentError(`${what}: descriptor ${digest} has no valid size`);
  let parsedPlatform: Platform | undefined;
  if (platform !== undefined && platform !== null && typeof platform === 'object') {
    const p = platform as Record<string, unknown>;
    if (typeof p.os === 'string' && typeof p.architecture === 'string') {
      parsedPlatform = { os: p.os, architecture: p.architecture, variant: typeof p.variant === 'string' ? p.variant : undefined };
    }
  }
  return {
    mediaType: typeof mediaType === 'string' ? mediaType : '',
    digest,
    size,
    platform: parsedPlatform,
    annotations: annotations !== null && typeof annotations === 'object' ? (annotations as Record<string, string>) : undefined,
  };
}

/** Reads an image manifest (OCI or Docker schema 2). */
export function parseImageManifest(fetched: FetchedManifest, reference: ImageReference): ImageManifest {
  const what = `${reference.name}@${fetched.digest}`;
  const parsed = parseJson(fetched.body, what) as { schemaVersion?: unknown; config?: unknown; layers?: unknown; annotations?: unknown };
  if (parsed.schemaVersion !== 2) throw new InvalidImageContentError(`${what}: manifest schemaVersion is not 2`);
  if (!Array.isArray(parsed.layers)) throw new InvalidImageContentError(`${what}: manifest has no layers array`);
  return {
    mediaType: fetched.mediaType,
    config: parseDescriptor(parsed.config, what),
    layers: (parsed.layers as unknown[]).map((layer) => parseDescriptor(layer, what)),
    annotations: parsed.annotations !== null && typeof parsed.annotations === 'object' ? (parsed.annotations as Record<string, string>) : undefined,
  };
}
