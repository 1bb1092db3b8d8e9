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

/** `kubeplug serve csi`: runs a reference plugin until SIGTERM or SIGINT. */
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
        .demandCommand(1, 'name what to serve: csi'),
    handler: () => {},
  };
}
