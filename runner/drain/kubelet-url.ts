/**
 * Where a kubelet's read-only API is reached: `http://HOST:PORT` (its
 * read-only port) or `unix:///path/to/read-only.sock` (its
 * `--read-only-socket`), as the issue 7 contract spells `--peer-kubelet`.
 */

/** A parsed kubelet address; `text` is the URL as given, for messages. */
export type KubeletAddress =
  | { readonly kind: 'http'; readonly text: string; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly text: string; readonly socketPath: string };

/** A kubelet URL of the wrong shape; the message says which shapes are taken. */
export class KubeletUrlError extends Error {
  constructor(readonly text: string, detail: string) {
    super(`expected http://HOST:PORT or unix:///path/to/socket, not ${JSON.stringify(text)} (${detail})`);
    this.name = 'KubeletUrlError';
  }
}

/** Parses a kubelet URL; throws {@link KubeletUrlError}. */
export function parseKubeletUrl(text: string): KubeletAddress {
  if (text.startsWith('unix://')) {
    const socketPath = text.slice('unix://'.length);
    if (!socketPath.startsWith('/') || socketPath.length < 2) throw new KubeletUrlError(text, 'a unix socket path must be absolute');
    return { kind: 'unix', text, socketPath };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new KubeletUrlError(text, 'not a URL');
  }
  if (url.protocol !== 'http:') throw new KubeletUrlError(text, `scheme ${url.protocol.replace(/:$/, '')} is not served by the kubelet's read-only port`);
  if (url.hostname === '') throw new KubeletUrlError(text, 'no host');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') throw new KubeletUrlError(text, 'a path, query or fragment is not taken');
  if (url.username !== '' || url.password !== '') throw new KubeletUrlError(text, 'credentials are not taken');
  // URL keeps IPv6 literals bracketed; http.request wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { kind: 'http', text, host, port: url.port === '' ? 80 : Number(url.port) };
}
