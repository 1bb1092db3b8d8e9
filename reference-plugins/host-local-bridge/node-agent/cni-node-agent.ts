import fs from 'node:fs';
import net from 'node:net';
import { dispatch, type PluginDefinition } from '../../../specs/cni/skeleton.js';
import { AgentProtocolError, decodeRequest, encodeResponse, type AgentRequest, type AgentResponse } from './agent-protocol.js';
import { agentSocketPath, netnsInode } from './agent-socket.js';

/** Options of {@link CniNodeAgent}. */
export interface CniNodeAgentOptions {
  /** Folder of the socket (0700); the socket itself is 0600, so only root's shims reach the agent. */
  readonly dir: string;
  /** Plugin type → definition; the shim names the type it stands for. */
  readonly plugins: Readonly<Record<string, PluginDefinition>>;
  /** One line per call (and per refused connection). */
  readonly log?: (line: string) => void;
}

// A request is a few KiB; a client sending more than this is broken.
const maxRequestBytes = 64 * 1024 * 1024;

/**
 * The resident half of kubeplug's CNI plugins: serves calls that
 * cni-exec-shim.c hands over, in the network namespace the agent runs in,
 * with the same dispatcher a standalone plugin process uses. It keeps no
 * state between calls (everything lives in the kernel and the IPAM data
 * directory), so killing and restarting it loses nothing; while it is down
 * the shims run the plugins standalone.
 *
 * A call outlives its shim: when the runtime kills a plugin mid-ADD, the
 * agent finishes the ADD. So calls of one plugin type for one attachment
 * (network, container, interface) run one at a time in arrival order, and
 * the DEL a runtime sends after a failed ADD always sees the whole ADD and
 * removes all of it. The plugin type is part of the key because a call may
 * wait on another one for the same attachment: the bridge's IPAM call comes
 * back through a shim when the IPAM plugin is a wrapper of ours.
 */
export class CniNodeAgent {
  readonly #options: CniNodeAgentOptions;
  readonly #server: net.Server;
  readonly #inode = netnsInode('self');
  #socketPath: string | undefined;
  /** The last call queued per attachment key; an entry leaves when its queue drains. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: CniNodeAgentOptions) {
    this.#options = options;
    // Half-open: the shim ends its sending side after the request and still reads the answer.
    this.#server = net.createServer({ allowHalfOpen: true }, (socket) => this.#serve(socket));
  }

  /** The socket path once listening. */
  get socketPath(): string | undefined {
    return this.#socketPath;
  }

  /** Listens on this namespace's socket; fails when another agent already serves it. */
  async start(): Promise<string> {
    fs.mkdirSync(this.#options.dir, { recursive: true, mode: 0o700 });
    const socketPath = agentSocketPath(this.#options.dir, this.#inode);
    await removeStaleSocket(socketPath);
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(socketPath, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(socketPath, 0o600);
    this.#socketPath = socketPath;
    return socketPath;
  }

  /** Stops taking calls, lets those in flight finish, then removes the socket. */
  async stop(): Promise<void> {
    const socketPath = this.#socketPath;
    this.#socketPath = undefined;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (socketPath !== undefined) fs.rmSync(socketPath, { force: true });
  }

  #serve(socket: net.Socket): void {
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxRequestBytes) {
        this.#log(`refused a request over ${maxRequestBytes} bytes`);
        socket.destroy();
        return;
      }
      chunks.push(chunk);
    });
    socket.on('error', () => {
      // The shim was killed; the call still runs to its end, as a plugin process would after its parent died.
    });
    socket.on('end', () => {
      let request: AgentRequest;
      try {
        request = decodeRequest(Buffer.concat(chunks));
      } catch (error) {
        this.#log(`refused a malformed request: ${error instanceof AgentProtocolError ? error.message : String(error)}`);
        socket.destroy();
        return;
      }
      void this.#answer(request).then((response) => {
        if (!socket.destroyed) socket.end(encodeResponse(response));
      });
    });
  }

  async #answer(request: AgentRequest): Promise<AgentResponse> {
    const started = performance.now();
    const plugin = this.#options.plugins[request.pluginType];
    const response =
      plugin === undefined
        ? refusal(`this agent does not run plugin type "${request.pluginType}"`)
        : (this.#sameNamespace(request.callerPid) ?? (await this.#inTurn(attachmentKey(request), () => dispatch(plugin, request))));
    const verb = request.env['CNI_COMMAND'] ?? '';
    this.#log(`${request.pluginType} ${verb} container=${request.env['CNI_CONTAINERID'] ?? ''} pid=${request.callerPid} exit=${response.exitCode} ${(performance.now() - started).toFixed(1)}ms`);
    return response;
  }

  /** A refusal when the caller is in another network namespace, where our host-side changes would not belong. */
  #sameNamespace(pid: number): AgentResponse | undefined {
    let inode: number;
    try {
      inode = netnsInode(pid);
    } catch {
      return refusal(`cannot see the caller's network namespace (pid ${pid})`);
    }
    return inode === this.#inode ? undefined : refusal(`the caller runs in another network namespace (inode ${inode}, the agent serves ${this.#inode})`);
  }

  /** Runs `work` after every earlier call with the same key has finished. */
  async #inTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const mine = previous.then(work, work);
    const settled = mine.catch(() => undefined);
    this.#queues.set(key, settled);
    try {
      return await mine;
    } finally {
      if (this.#queues.get(key) === settled) this.#queues.delete(key);
    }
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }
}

/** Which plugin and attachment a call is about: type, network name, container ID and interface (verbs without a container share one key per network). */
function attachmentKey(request: AgentRequest): string {
  let network = '';
  try {
    const name = (JSON.parse(request.stdin) as { name?: unknown }).name;
    if (typeof name === 'string') network = name;
  } catch {
    // Undecodable configurations fail in dispatch; they need no ordering.
  }
  return JSON.stringify([request.pluginType, network, request.env['CNI_CONTAINERID'] ?? '', request.env['CNI_IFNAME'] ?? '']);
}

function refusal(msg: string): AgentResponse {
  return { exitCode: 1, stdout: `${JSON.stringify({ cniVersion: '1.1.0', code: 999, msg: `kubeplug CNI node agent: ${msg}` })}\n`, stderr: '' };
}

/** Removes a socket left by an agent that died; refuses when a live agent answers on it. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket; not touching it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`another kubeplug CNI node agent already serves this network namespace on ${socketPath}`);
  fs.rmSync(socketPath, { force: true });
}
