import fs from 'node:fs/promises';
import path from 'node:path';
import type { OciRuntime } from '../oci/oci-runtime.js';
import type { OciSpec } from '../oci/oci-spec.js';
import { buildExecProcess } from '../oci/runtime-spec.js';
import { followCriLog } from './cri-log-follower.js';
import { startOciExec } from './oci-exec-process.js';
import type { ContainerOutput, StreamingContainer, StreamingProcess, StreamingRuntime, StreamingSandbox } from './streaming-runtime.js';

/** A container with the files streaming needs. */
export interface StreamingContainerFiles extends StreamingContainer {
  /** The OCI bundle whose config.json holds the container's process (exec inherits its user, env, cwd, capabilities). */
  readonly bundle: string;
  /** The CRI log file, or '' when none was asked for. */
  readonly logPath: string;
}

/** The runtime's records, as the default streaming runtime reads them. */
export interface OciStreamingRuntimeOptions {
  readonly oci: OciRuntime;
  findContainer(idOrPrefix: string): Promise<StreamingContainerFiles | undefined>;
  findSandbox(idOrPrefix: string): Promise<StreamingSandbox | undefined>;
  /** How often attach looks for new log lines and the container's exit; 100 ms unless told. */
  readonly attachPollMs?: number;
}

/**
 * The StreamingRuntime of the process runtime: exec through
 * `<runtime> exec --process` on pipes, attach by following the CRI log
 * file (output only), lookups from the runtime's records.
 */
export class OciStreamingRuntime implements StreamingRuntime {
  readonly #options: OciStreamingRuntimeOptions;

  constructor(options: OciStreamingRuntimeOptions) {
    this.#options = options;
  }

  findContainer(idOrPrefix: string): Promise<StreamingContainerFiles | undefined> {
    return this.#options.findContainer(idOrPrefix);
  }

  findSandbox(idOrPrefix: string): Promise<StreamingSandbox | undefined> {
    return this.#options.findSandbox(idOrPrefix);
  }

  async execProcess(containerId: string, cmd: readonly string[], options: { tty: boolean; stdin: boolean }): Promise<StreamingProcess> {
    const container = await this.#requireRunning(containerId);
    const spec = JSON.parse(await fs.readFile(path.join(container.bundle, 'config.json'), 'utf8')) as OciSpec;
    const process = buildExecProcess(spec.process, cmd);
    if (options.tty) {
      // As containerd does for a terminal exec: a terminal type programs can use.
      process.terminal = true;
      process.env = [...(process.env ?? []).filter((entry) => !entry.startsWith('TERM=')), 'TERM=xterm'];
    }
    return startOciExec(this.#options.oci, container.id, process, { stdin: options.stdin });
  }

  async attachOutput(containerId: string): Promise<ContainerOutput> {
    const container = await this.#requireRunning(containerId);
    return followCriLog({
      logPath: container.logPath,
      hasExited: async () => (await this.#options.findContainer(container.id))?.running !== true,
      ...(this.#options.attachPollMs === undefined ? {} : { pollMs: this.#options.attachPollMs }),
    });
  }

  async #requireRunning(containerId: string): Promise<StreamingContainerFiles> {
    const container = await this.#options.findContainer(containerId);
    if (container === undefined) throw new Error(`container ${containerId} not found`);
    if (!container.running) throw new Error(`container ${container.id} is not running`);
    return container;
  }
}
