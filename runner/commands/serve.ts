import type { Argv } from 'yargs';
import { UsageError } from '../usage-error.js';
import type { CommandIo } from './certify.js';

/** The environment variable that makes the driver SIGKILL itself at a named point; for tests only. */
export const crashAtVariable = 'KUBEPLUG_CSI_CRASH_AT';

/** Resolves at the first SIGTERM or SIGINT. */
function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

function wholeNumber(value: unknown, flag: string, minimum: number): number | undefined {
  if (value === undefined) return undefined;
  const number = typeof value === 'number' ? value : Number.NaN;
  if (!Number.isSafeInteger(number) || number < minimum) throw new UsageError(`${flag} must be a whole number ≥ ${minimum}, not ${String(value)}`);
  return number;
}

/** A repeatable string flag as a list (yargs gives one value as a string). */
function stringList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** `--registry-mirror HOST=URL`, repeatable, as a host → URL table. */
function registryMirrors(values: readonly string[]): Record<string, string> {
  const mirrors: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    const host = value.slice(0, at);
    const url = value.slice(at + 1);
    if (at <= 0 || !/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--registry-mirror must be HOST=http(s)://host[:port], not ${JSON.stringify(value)}`);
    mirrors[host] = url;
  }
  return mirrors;
}

/** Runs `kubeplug serve cri` until SIGTERM or SIGINT. */
async function serveCri(
  io: CommandIo,
  argv: { endpoint: string; root: string; 'cni-conf-dir': string; 'cni-path': unknown; 'oci-runtime': string; 'registry-mirror'?: unknown; 'insecure-registry'?: unknown; 'streaming-address'?: string },
): Promise<void> {
  const cniPath = stringList(argv['cni-path']).flatMap((entry) => entry.split(':')).filter((dir) => dir !== '');
  if (cniPath.length === 0) throw new UsageError('--cni-path needs at least one folder');
  const mirrors = registryMirrors(stringList(argv['registry-mirror']));
  const insecure = stringList(argv['insecure-registry']);
  const [{ startProcessRuntime, ProcessRuntimeOptionsError }, { EndpointError, SocketInUseError }] = await Promise.all([
    import('../../reference-plugins/process-runtime/index.js'),
    import('../../specs/cri/index.js'),
  ]);
  const flags: Record<string, string> = { root: '--root', cniConfDir: '--cni-conf-dir', cniPath: '--cni-path', ociRuntime: '--oci-runtime', registryMirrors: '--registry-mirror', insecureRegistries: '--insecure-registry', streamingAddress: '--streaming-address' };
  let runtime;
  try {
    runtime = await startProcessRuntime({
      endpoint: argv.endpoint,
      root: argv.root,
      cniConfDir: argv['cni-conf-dir'],
      cniPath,
      ociRuntime: argv['oci-runtime'],
      registryMirrors: mirrors,
      insecureRegistries: insecure,
      ...(argv['streaming-address'] === undefined ? {} : { streamingAddress: argv['streaming-address'] }),
      log: (line) => io.progress.write(`${line}\n`),
    });
  } catch (error) {
    if (error instanceof ProcessRuntimeOptionsError) throw new UsageError(`${flags[error.option] ?? error.option}: ${error.message}`);
    if (error instanceof EndpointError || error instanceof SocketInUseError) throw new UsageError(`--endpoint: ${error.message}`);
    throw error;
  }
  const stopped = untilStopSignal();
  io.out.write(`ready ${runtime.socketPath}\n`);
  const signal = await stopped;
  io.progress.write(`kubeplug serve cri: ${signal}, stopping (sandboxes and containers keep running)\n`);
  await runtime.close();
}

/** `kubeplug serve csi|cri`: runs a reference plugin until SIGTERM or SIGINT. */
export function serveCommand(io: CommandIo) {
  return {
    command: 'serve',
    describe: 'Run a reference plugin',
    builder: (yargs: Argv) =>
      yargs
        .command({
          command: 'csi',
          describe: 'Serve the dir-volume CSI driver (Identity, Controller and Node) on a unix socket',
          builder: (sub: Argv) =>
            sub
              .option('endpoint', { type: 'string', demandOption: true, describe: 'Where to listen, unix:///path.sock' })
              .option('root', { type: 'string', demandOption: true, describe: 'Folder for volume images and the driver state' })
              .option('node-id', { type: 'string', demandOption: true, describe: 'This node\'s ID (also its topology segment)' })
              .option('capacity', { type: 'number', describe: 'Total bytes the driver may allocate (default: the free space under --root)' })
              .option('max-volumes-per-node', { type: 'number', default: 0, describe: 'Most volumes staged at once, reported by NodeGetInfo (0: no limit)' }),
          handler: async (argv: { endpoint: string; root: string; 'node-id': string; capacity?: number | undefined; 'max-volumes-per-node': number }) => {
            const capacityBytes = wholeNumber(argv.capacity, '--capacity', 1);
            const maxVolumesPerNode = wholeNumber(argv['max-volumes-per-node'], '--max-volumes-per-node', 0) ?? 0;
            const [{ startDirVolumeDriver, DirVolumeOptionsError, isCrashPoint }, { EndpointError, SocketInUseError }] = await Promise.all([
              import('../../reference-plugins/dir-volume/index.js'),
              import('../../specs/csi/index.js'),
            ]);
            const crashAt = process.env[crashAtVariable];
            if (crashAt !== undefined && crashAt !== '' && !isCrashPoint(crashAt)) throw new UsageError(`${crashAtVariable}=${crashAt} names no crash point`);
            const flags: Record<string, string> = { nodeId: '--node-id', capacityBytes: '--capacity', maxVolumesPerNode: '--max-volumes-per-node' };
            let driver;
            try {
              driver = await startDirVolumeDriver({
                endpoint: argv.endpoint,
                root: argv.root,
                nodeId: argv['node-id'],
                maxVolumesPerNode,
                ...(capacityBytes === undefined ? {} : { capacityBytes }),
                ...(crashAt !== undefined && isCrashPoint(crashAt) ? { crashAt } : {}),
                log: (line) => io.progress.write(`${line}\n`),
              });
            } catch (error) {
              if (error instanceof DirVolumeOptionsError) throw new UsageError(`${flags[error.option] ?? error.option}: ${error.message}`);
              if (error instanceof EndpointError || error instanceof SocketInUseError) throw new UsageError(`--endpoint: ${error.message}`);
              throw error;
            }
            const stopped = untilStopSignal();
            io.out.write(`ready ${driver.socketPath}\n`);
            const signal = await stopped;
            io.progress.write(`kubeplug serve csi: ${signal}, stopping\n`);
            await driver.close();
          },
        })
        .command({
          command: 'cri',
          describe: 'Serve the process runtime (CRI RuntimeService and ImageService) on a unix socket',
          builder: (sub: Argv) =>
            sub
              .option('endpoint', { type: 'string', demandOption: true, describe: 'Where to listen, unix:///path.sock' })
              .option('root', { type: 'string', demandOption: true, describe: 'Folder for images, sandboxes, containers and the runtime state' })
              .option('cni-conf-dir', { type: 'string', demandOption: true, describe: 'CNI network configuration folder (the first .conf/.conflist by name is used)' })
              .option('cni-path', { type: 'string', array: true, demandOption: true, describe: 'Folder(s) of CNI plugins; repeatable or colon-separated' })
              .option('oci-runtime', { type: 'string', default: 'runc', describe: 'OCI runtime: runc, crun or a path' })
              .option('registry-mirror', { type: 'string', array: true, describe: 'HOST=URL: pull images of HOST from URL first; repeatable' })
              .option('insecure-registry', { type: 'string', array: true, describe: 'HOST: pull from HOST over plain http; repeatable' })
              .option('streaming-address', { type: 'string', describe: 'HOST:PORT the Exec/Attach/PortForward streaming server listens on (default 127.0.0.1, a free port)' }),
          handler: (argv: { endpoint: string; root: string; 'cni-conf-dir': string; 'cni-path': unknown; 'oci-runtime': string; 'registry-mirror'?: unknown; 'insecure-registry'?: unknown; 'streaming-address'?: string }) =>
            serveCri(io, argv),
        })
        .demandCommand(1, 'name what to serve: csi or cri'),
    handler: () => {},
  };
}
