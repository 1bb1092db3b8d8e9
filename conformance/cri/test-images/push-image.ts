import http from 'node:http';

import type { RegistryCredentials } from './registry-htpasswd.js';
import { dockerMediaTypes, ociMediaTypes, type BuiltImage, type BuiltImageIndex } from './test-image.js';

/** A registry answered a push step with a status the step does not accept. */
export class RegistryHttpError extends Error {
  override readonly name = 'RegistryHttpError';
  readonly status: number;
  readonly method: string;
  readonly url: string;
  readonly body: string;

  constructor(options: { method: string; url: string; status: number; body: string; cause?: unknown }) {
    super(`${options.method} ${options.url} answered ${options.status}: ${options.body.slice(0, 500)}`, { cause: options.cause });
    this.status = options.status;
    this.method = options.method;
    this.url = options.url;
    this.body = options.body;
  }
}

/** Where to push and as whom. */
export interface RegistryTarget {
  /** `host:port` of a plain-http registry, e.g. `127.0.0.1:5000`. */
  readonly registryHost: string;
  /** The repository inside the registry, e.g. `kubeplug-test/busybox`. */
  readonly repository: string;
  /** Sent as HTTP basic auth on every request when set. */
  readonly credentials?: RegistryCredentials;
}

/** Every manifest media type the test images use, for `Accept`. */
const manifestAccept = [ociMediaTypes.manifest, ociMediaTypes.index, dockerMediaTypes.manifest, dockerMediaTypes.index].join(', ');

interface RegistryResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One HTTP request to a registry with the whole body in memory. */
function registryRequest(options: {
  method: string;
  url: string;
  credentials?: RegistryCredentials;
  headers?: Record<string, string>;
  body?: Buffer;
}): Promise<RegistryResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.credentials !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.credentials.user}:${options.credentials.password}`).toString('base64')}`;
  }
  if (options.body !== undefined) headers['content-length'] = String(options.body.length);
  return new Promise((resolve, reject) => {
    // No keep-alive: a test registry may be stopped and another started on the same port between two requests.
    const request = http.request(options.url, { method: options.method, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

/** Throws {@link RegistryHttpError} unless the status is one the step accepts. */
function expectStatus(response: RegistryResponse, method: string, url: string, accepted: readonly number[]): void {
  if (!accepted.includes(response.status)) {
    throw new RegistryHttpError({ method, url, status: response.status, body: response.body.toString('utf8') });
  }
}

function repositoryUrl(target: RegistryTarget): string {
  return `http://${target.registryHost}/v2/${target.repository}`;
}

/** Whether the repository already holds a blob (`HEAD /v2/<name>/blobs/<digest>`). */
export async function blobExists(target: RegistryTarget, digest: string): Promise<boolean> {
  const url = `${repositoryUrl(target)}/blobs/${digest}`;
  const response = await registryRequest({ method: 'HEAD', url, credentials: target.credentials });
  expectStatus(response, 'HEAD', url, [200, 404]);
  return response.status === 200;
}

/**
 * Uploads one blob unless the repository has it: `POST …/blobs/uploads/`, then
 * a monolithic `PUT <location>&digest=`. Idempotent.
 * @see distribution/distribution docs/spec/api.md "Pushing An Image"
 */
export async function pushBlob(target: RegistryTarget, blob: { digest: string; data: Buffer }): Promise<void> {
  if (await blobExists(target, blob.digest)) return;
  const startUrl = `${repositoryUrl(target)}/blobs/uploads/`;
  const started = await registryRequest({ method: 'POST', url: startUrl, credentials: target.credentials });
  expectStatus(started, 'POST', startUrl, [202]);
  const location = started.headers.location;
  if (location === undefined) throw new RegistryHttpError({ method: 'POST', url: startUrl, status: started.status, body: 'no Location header' });
  const uploadUrl = new URL(location, startUrl);
  uploadUrl.searchParams.set('digest', blob.digest);
  const finished = await registryRequest({
    method: 'PUT',
    url: uploadUrl.href,
    credentials: target.credentials,
    headers: { 'content-type': 'application/octet-stream' },
    body: blob.data,
  });
  expectStatus(finished, 'PUT', uploadUrl.href, [201]);
}

/**
 * The digest the registry holds for a tag or digest (`HEAD
 * /v2/<name>/manifests/<reference>`), or undefined when it holds none.
 */
export async function manifestDigest(target: RegistryTarget, reference: string): Promise<string | undefined> {
  const url = `${repositoryUrl(target)}/manifests/${reference}`;
  const response = await registryRequest({ method: 'HEAD', url, credentials: target.credentials, headers: { accept: manifestAccept } });
  expectStatus(response, 'HEAD', url, [200, 404]);
  const digest = response.headers['docker-content-digest'];
  return response.status === 200 && typeof digest === 'string' ? digest : undefined;
}

/** A manifest as the registry serves it, by tag or digest. */
export async function getManifest(target: RegistryTarget, reference: string): Promise<{ mediaType: string; digest: string; bytes: Buffer }> {
  const url = `${repositoryUrl(target)}/manifests/${reference}`;
  const response = await registryRequest({ method: 'GET', url, credentials: target.credentials, headers: { accept: manifestAccept } });
  expectStatus(response, 'GET', url, [200]);
  return {
    mediaType: String(response.headers['content-type'] ?? ''),
    digest: String(response.headers['docker-content-digest'] ?? ''),
    bytes: response.body,
  };
}

/** Stores manifest bytes under a tag or their digest (`PUT /v2/<name>/manifests/<reference>`). */
async function putManifest(target: RegistryTarget, reference: string, manifest: { mediaType: string; bytes: Buffer }): Promise<void> {
  const url = `${repositoryUrl(target)}/manifests/${reference}`;
  const response = await registryRequest({
    method: 'PUT',
    url,
    credentials: target.credentials,
    headers: { 'content-type': manifest.mediaType },
    body: manifest.bytes,
  });
  expectStatus(response, 'PUT', url, [201]);
}

/**
 * Pushes an image: its layers and config (skipping blobs already there), then
 * its manifest under `tag`, or only under its digest when no tag is given.
 * Returns the manifest digest.
 */
export async function pushImage(target: RegistryTarget, image: BuiltImage, tag?: string): Promise<string> {
  for (const layer of image.layers) await pushBlob(target, layer);
  await pushBlob(target, { digest: image.configDigest, data: image.configBytes });
  await putManifest(target, tag ?? image.manifestDigest, { mediaType: image.mediaType, bytes: image.manifestBytes });
  return image.manifestDigest;
}

/**
 * Pushes an image index: every image it points to by digest (the registry
 * refuses an index whose manifests it lacks), then the index under `tag`.
 * Returns the index digest.
 */
export async function pushImageIndex(target: RegistryTarget, index: BuiltImageIndex, tag: string): Promise<string> {
  for (const image of index.images) await pushImage(target, image);
  await putManifest(target, tag, { mediaType: index.mediaType, bytes: index.indexBytes });
  return index.indexDigest;
}
