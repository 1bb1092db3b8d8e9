import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

// RFC 6455 section 1.3: the server proves it read the key by hashing it with this GUID.
const acceptGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept value answering a client's Sec-WebSocket-Key (RFC 6455 section 4.2.2). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(`${key}${acceptGuid}`).digest('base64');
}

/** Whether a request asks to become a WebSocket (Connection: Upgrade, Upgrade: websocket). */
export function isWebSocketRequest(request: IncomingMessage): boolean {
  const connection = String(request.headers.connection ?? '').toLowerCase();
  const upgrade = String(request.headers.upgrade ?? '').toLowerCase();
  return connection.split(',').some((token) => token.trim() === 'upgrade') && upgrade === 'websocket';
}

/** The subprotocols a client offers, in its order of preference. */
export function offeredProtocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values.flatMap((value) => value.split(',')).map((value) => value.trim()).filter((value) => value !== '');
}

/** The outcome of checking an upgrade request. */
export type UpgradeDecision = { readonly accepted: true; readonly protocol: string } | { readonly accepted: false; readonly status: number; readonly message: string };

/**
 * Checks a WebSocket upgrade and picks the subprotocol: the first one the
 * client offers that `supported` holds ('' stands for a client offering
 * none), as the kubelet's wsstream handshake picks.
 * @see kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/util/wsstream/conn.go (v1.30, func handshake)
 */
export function decideUpgrade(request: IncomingMessage, supported: readonly string[]): UpgradeDecision {
  if (request.method !== 'GET') return { accepted: false, status: 405, message: `a WebSocket upgrade must be a GET, not ${request.method ?? '?'}` };
  if (!isWebSocketRequest(request)) {
    return { accepted: false, status: 400, message: 'this streaming server speaks WebSocket only (RFC 6455, subprotocol v4.channel.k8s.io); SPDY is not supported' };
  }
  if (request.headers['sec-websocket-version'] !== '13') return { accepted: false, status: 426, message: 'Sec-WebSocket-Version must be 13' };
  const key = request.headers['sec-websocket-key'];
  if (typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) return { accepted: false, status: 400, message: 'Sec-WebSocket-Key must be 16 bytes in base64' };
  const offered = offeredProtocols(request);
  const candidates = offered.length === 0 ? [''] : offered;
  const protocol = candidates.find((candidate) => supported.includes(candidate));
  if (protocol === undefined) {
    return { accepted: false, status: 400, message: `none of the offered subprotocols (${offered.join(', ')}) is supported; this endpoint speaks ${supported.filter((p) => p !== '').join(', ')}` };
  }
  return { accepted: true, protocol };
}

/** Writes the 101 answer completing the handshake on the raw socket. */
export function acceptUpgrade(request: IncomingMessage, socket: Duplex, protocol: string): void {
  const key = String(request.headers['sec-websocket-key']);
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${websocketAccept(key)}`];
  if (protocol !== '') lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
}

/** Answers a request that will not be upgraded with a plain-text HTTP error and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = Buffer.from(`${message}\n`, 'utf8');
  const reason = httpReasons[status] ?? 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('utf8')}`);
}

const httpReasons: Readonly<Record<number, string>> = { 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 426: 'Upgrade Required', 500: 'Internal Server Error' };
