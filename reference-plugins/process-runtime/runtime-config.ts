import type { ImageLookup } from './runtime/image-lookup.js';

/** Options for {@link startProcessRuntime} (`kubeplug serve cri` flags). */
export interface ProcessRuntimeOptions {
  /** `unix:///path.sock` or a socket path; RuntimeService and ImageService share it. */
  readonly endpoint: string;
  /** The folder holding every image, sandbox and container; nothing is written elsewhere but mounts, cgroups and CNI's work. */
  readonly root: string;
  /** The CNI network configuration folder (first .conf/.conflist/.json by name). */
  readonly cniConfDir: string;
  /** Folders searched for CNI plugins, in order. */
  readonly cniPath: readonly string[];
  /** The OCI runtime: 'runc' (default), 'crun' or a path. */
  readonly ociRuntime?: string;
  /** Registry host → base URL tried first. */
  readonly registryMirrors?: Readonly<Record<string, string>>;
  /** Hosts pulled over plain http. */
  readonly insecureRegistries?: readonly string[];
  /** Where the streaming server (Exec, Attach, PortForward URLs) listens, `HOST:PORT` (default 127.0.0.1:0, a free port). */
  readonly streamingAddress?: string;
  /** How often every process is re-checked besides inotify, in ms (default 1000). */
  readonly exitCheckIntervalMs?: number;
  /** For tests: images from somewhere else than the image store (the ImageService is then not served). */
  readonly images?: ImageLookup;
  /** Where log lines go; stderr when unset. */
  readonly log?: (line: string) => void;
}

/** An option the runtime refuses to start with; `option` names it. */
export class ProcessRuntimeOptionsError extends Error {
  constructor(
    readonly option: keyof ProcessRuntimeOptions,
    message: string,
  ) {
    super(message);
    this.name = 'ProcessRuntimeOptionsError';
  }
}

/** The OCI runtimes the process runtime is tested with. */
export const knownOciRuntimes = ['runc', 'crun'] as const;

/** Checks options that can be judged without touching the system. @throws ProcessRuntimeOptionsError */
export function checkRuntimeOptions(options: ProcessRuntimeOptions): void {
  if (options.root === '') throw new ProcessRuntimeOptionsError('root', 'the root folder is required');
  if (options.cniConfDir === '') throw new ProcessRuntimeOptionsError('cniConfDir', 'the CNI configuration folder is required');
  if (options.cniPath.length === 0 || options.cniPath.some((dir) => dir === '')) throw new ProcessRuntimeOptionsError('cniPath', 'at least one CNI plugin folder is required');
  const oci = options.ociRuntime ?? 'runc';
  if (!oci.includes('/') && !(knownOciRuntimes as readonly string[]).includes(oci)) {
    throw new ProcessRuntimeOptionsError('ociRuntime', `unknown OCI runtime ${JSON.stringify(oci)}: use runc, crun or a path`);
  }
  for (const [host, url] of Object.entries(options.registryMirrors ?? {})) {
    if (host === '' || !/^https?:\/\/[^/]+/.test(url)) throw new ProcessRuntimeOptionsError('registryMirrors', `mirror ${JSON.stringify(`${host}=${url}`)} must be HOST=http(s)://host[:port]`);
  }
}
