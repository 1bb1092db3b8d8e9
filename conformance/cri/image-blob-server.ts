/**
 * A read-only registry on 127.0.0.1 that serves exactly the bytes it is
 * given, under whatever digest it is told: the one way to hand a runtime a
 * blob whose content does not match its digest, which a real registry
 * refuses to store. Speaks the pull side of the distribution API only:
 * `GET /v2/`, manifests by tag or digest, blobs by digest (GET and HEAD).
 * @see opencontainers/distribution-spec v1.1.0 spec.md (pulling)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One manifest a repository serves under a tag and under its digest. */
export interface ServedManifest {
  readonly tag: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
}

/** What the server holds: manifests and blobs of one repository. */
export interface BlobServerContent {
  readonly repository: string;
  readonly manifests: readonly ServedManifest[];
  /** Blob bytes by the digest they are served under, matching or not. */
  readonly blobs: ReadonlyMap<string, Buffer>;
}

/** A running blob server. */
export interface BlobServer {
  /** `127.0.0.1:PORT`, the registry host of image references. */
  readonly host: string;
  /** Every request path served, in order, for evidence. */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

/** Starts the server on a free loopback port. */
export function startBlobServer(content: BlobServerContent): Promise<BlobServer> {
  const requests: string[] = [];
  const prefix = `/v2/${content.repository}/`;
  const server = http.createServer((request, response) => {
    const url = request.url ?? '';
    requests.push(`${request.method ?? '?'} ${url}`);
    const send = (status: number, body: Buffer, headers: Record<string, string> = {}): void => {
      response.writeHead(status, { 'content-length': String(body.length), ...headers });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (url === '/v2/' || url === '/v2') {
      send(200, Buffer.from('{}'), { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      return;
    }
    if (!url.startsWith(prefix)) {
      send(404, Buffer.from('{"errors":[{"code":"NAME_UNKNOWN"}]}'), { 'content-type': 'application/json' });
      return;
    }
    const [kind, reference = ''] = url.slice(prefix.length).split('/');
    if (kind === 'manifests') {
      const manifest = content.manifests.find((candidate) => candidate.tag === reference || candidate.digest === reference);
      if (manifest !== undefined) {
        send(200, manifest.bytes, { 'content-type': manifest.mediaType, 'docker-content-digest': manifest.digest });
        return;
      }
    }
    if (kind === 'blobs') {
      const blob = content.blobs.get(reference);
      if (blob !== undefined) {
        send(200, blob, { 'content-type': 'application/octet-stream', 'docker-content-digest': reference });
        return;
      }
    }
    send(404, Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'), { 'content-type': 'application/json' });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        host: `127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
