import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CaseContext } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';
import { NetnsCommandError, type NetworkNamespace } from './network-namespaces.js';

type Ctx = CaseContext<CniSubject>;

/** The TCP port probe servers listen on; every namespace has its own ports. */
export const probePort = 7470;

/** How long one probe may take before it counts as unanswered. */
export const probeTimeoutMs = 3_000;

/** What a probe server answers each connection with. */
export interface ProbeAnswer {
  /** Names the namespace that answered, so a probe knows it reached the intended one. */
  readonly token: string;
  /** The peer address the server saw: the source address of the connection as it arrived. */
  readonly remote: string;
  /** The server's own address the connection arrived at. */
  readonly local: string;
}

/** One TCP probe as the client saw it. */
export interface TcpProbeOutcome {
  readonly address: string;
  /** The address the client's socket used as its source. */
  readonly clientAddress?: string;
  readonly answer?: ProbeAnswer;
  readonly error?: string;
  readonly durationMs: number;
}

// Run with `node -e` inside a namespace: answer every connection with the token and the addresses seen, then close.
// It exits when its stdin closes, so a crashed harness leaves no server behind.
const serverScript = `
const net = require('node:net');
const [token, port] = process.argv.slice(1);
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.end(JSON.stringify({ token, remote: socket.remoteAddress, local: socket.localAddress }) + '\\n');
});
server.on('error', (error) => { console.error(error.message); process.exit(1); });
server.listen({ port: Number(port), host: '0.0.0.0' }, () => console.log('ready'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

// Run with `node -e` inside a namespace: connect to every target at once, each bounded in time, print JSON outcomes.
const clientScript = `
const net = require('node:net');
const [targets, port, timeoutMs] = [JSON.parse(process.argv[1]), Number(process.argv[2]), Number(process.argv[3])];
const probe = (address) => new Promise((resolve) => {
  const started = performance.now();
  let data = '';
  let clientAddress;
  let done = false;
  const socket = net.connect({ host: address, port });
  const finish = (outcome) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.destroy();
    resolve({ address, ...(clientAddress === undefined ? {} : { clientAddress }), ...outcome, durationMs: Math.round(performance.now() - started) });
  };
  const timer = setTimeout(() => finish({ error: 'no answer within ' + timeoutMs + ' ms' }), timeoutMs);
  socket.setEncoding('utf8');
  socket.on('connect', () => { clientAddress = socket.localAddress; });
  socket.on('data', (chunk) => { data += chunk; });
  socket.on('end', () => {
    try { finish({ answer: JSON.parse(data) }); } catch { finish({ error: 'answer is not JSON: ' + data.slice(0, 200) }); }
  });
  socket.on('error', (error) => finish({ error: error.code || error.message }));
});
Promise.all(targets.map(probe)).then((outcomes) => process.stdout.write(JSON.stringify(outcomes)));
`;

/**
 * Starts a probe server in a namespace, listening on every address at
 * {@link probePort}; its kill is registered with ctx.defer as soon as it is
 * spawned. Resolves once it listens.
 */
export async function startProbeServer(ctx: Ctx, namespace: NetworkNamespace, token: string): Promise<void> {
  const child = spawn('nsenter', [`--net=${namespace.path}`, '--', process.execPath, '-e', serverScript, token, String(probePort)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  ctx.defer(() => stopProcess(child), `stop probe server in ${namespace.name}`);
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`probe server in ${namespace.name} did not listen within 10 s: ${stderr.trim()}`)), 10_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`probe server in ${namespace.name} exited (${code}) before listening: ${stderr.trim()}`));
    });
  });
}

function stopProcess(child: ReturnType<typeof spawn>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/**
 * Connects from a namespace to each address at {@link probePort}, all at
 * once, each bounded by {@link probeTimeoutMs}, and returns what each
 * server answered (or why none did).
 */
export async function tcpProbes(source: NetworkNamespace, addresses: readonly string[]): Promise<TcpProbeOutcome[]> {
  if (addresses.length === 0) return [];
  try {
    const { stdout } = await source.exec(process.execPath, ['-e', clientScript, JSON.stringify(addresses), String(probePort), String(probeTimeoutMs)], {
      timeoutMs: probeTimeoutMs + 10_000,
    });
    return JSON.parse(stdout) as TcpProbeOutcome[];
  } catch (error) {
    const message = `probe client in ${source.name} failed: ${(error as Error).message}`;
    return addresses.map((address) => ({ address, error: message, durationMs: 0 }));
  }
}

/** The `ping` executable on PATH, or undefined when none is installed (the suite installs nothing). */
export async function findPing(): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const candidate = path.join(dir, 'ping');
    try {
      await fs.access(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // Try the next folder.
    }
  }
  return undefined;
}

/** One ICMP echo probe: reached when one reply came back within 2 s. */
export interface IcmpProbeOutcome {
  readonly address: string;
  readonly reached: boolean;
  readonly detail: string;
}

/** Sends one ICMP echo request (`ping -n -c 1 -W 2`) from a namespace. */
export async function icmpProbe(source: NetworkNamespace, ping: string, address: string): Promise<IcmpProbeOutcome> {
  try {
    await source.exec(ping, ['-n', '-c', '1', '-W', '2', address], { timeoutMs: 10_000 });
    return { address, reached: true, detail: 'echo reply' };
  } catch (error) {
    if (!(error instanceof NetnsCommandError)) return { address, reached: false, detail: String(error) };
    // iputils ping exits 1 when no reply came, 2 on other errors; a null code means our 10 s bound (process start included) killed it.
    const detail =
      error.exitCode === 1
        ? 'no echo reply within 2 s'
        : error.exitCode === null
          ? 'ping did not end within 10 s'
          : `ping failed: ${error.stderr.trim().slice(0, 200)}`;
    return { address, reached: false, detail };
  }
}

/** Maps over items with at most `limit` calls in flight. */
export async function mapWithLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    for (let index = next++; index < items.length; index = next++) results[index] = await fn(items[index] as T);
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
