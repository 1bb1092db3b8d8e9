import net from 'node:net';
import type { Argv } from 'yargs';
import { UsageError } from '../usage-error.js';
import type { CommandIo } from './certify.js';

/** The flags as yargs hands them over. */
interface KubeletArgv {
  'pod-manifest-path': string;
  'container-runtime-endpoint': string;
  'image-service-endpoint'?: string | undefined;
  'csi-endpoint'?: unknown;
  'root-dir': string;
  'node-name': string;
  'read-only-port': number;
  'read-only-socket'?: string | undefined;
  address: string;
  'max-container-restart-period': number;
  'sync-frequency': number;
  'cgroup-parent'?: string | undefined;
  'peer-kubelet'?: unknown;
}

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

function unixEndpoint(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^unix:\/\/\/./.test(value)) throw new UsageError(`${flag} must be unix:///path/to/socket, not ${JSON.stringify(value)}`);
  return value;
}

function wholeNumber(value: number, flag: string, minimum: number, maximum: number): number {
  if (!Number.isSafeInteger(value) || value < minimum || value > maximum) throw new UsageError(`${flag} must be a whole number from ${minimum} to ${maximum}, not ${String(value)}`);
  return value;
}

/** `--csi-endpoint NAME=unix:///…`, repeatable, as a driver → endpoint table. */
function csiEndpoints(value: unknown): Record<string, string> {
  const values = value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String);
  const endpoints: Record<string, string> = {};
  for (const entry of values) {
    const equals = entry.indexOf('=');
    const driver = equals < 0 ? '' : entry.slice(0, equals);
    const endpoint = equals < 0 ? '' : entry.slice(equals + 1);
    if (driver === '' || !/^unix:\/\/\/./.test(endpoint)) throw new UsageError(`--csi-endpoint must be NAME=unix:///path/to/socket, not ${JSON.stringify(entry)}`);
    if (driver in endpoints) throw new UsageError(`--csi-endpoint names driver ${JSON.stringify(driver)} twice`);
    endpoints[driver] = endpoint;
  }
  return endpoints;
}

/** An RFC 1123 subdomain, as node names are. */
const nodeNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const flagOf: Record<string, string> = {
  podManifestPath: '--pod-manifest-path',
  containerRuntimeEndpoint: '--container-runtime-endpoint',
  imageServiceEndpoint: '--image-service-endpoint',
  csiEndpoints: '--csi-endpoint',
  rootDir: '--root-dir',
  nodeName: '--node-name',
  readOnlyPort: '--read-only-port',
  readOnlySocket: '--read-only-socket',
  address: '--address',
  peerKubelets: '--peer-kubelet',
};

/** `--peer-kubelet URL`, repeatable: http://HOST:PORT or unix:///path. */
function peerKubelets(value: unknown): string[] {
  const values = value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String);
  for (const url of values) {
    if (!/^unix:\/\/\/./.test(url) && !/^http:\/\/[^/]+(:\d+)?\/?$/.test(url)) throw new UsageError(`--peer-kubelet must be http://HOST:PORT or unix:///path/to/read-only.sock, not ${JSON.stringify(url)}`);
  }
  return values;
}

/** Runs the kubelet until SIGTERM or SIGINT; pods keep running after it stops. */
async function runKubelet(io: CommandIo, argv: KubeletArgv): Promise<void> {
  const runtimeEndpoint = unixEndpoint(argv['container-runtime-endpoint'], '--container-runtime-endpoint') ?? '';
  const imageEndpoint = unixEndpoint(argv['image-service-endpoint'], '--image-service-endpoint');
  const csi = csiEndpoints(argv['csi-endpoint']);
  const peers = peerKubelets(argv['peer-kubelet']);
  if (!nodeNamePattern.test(argv['node-name']) || argv['node-name'].length > 253) throw new UsageError(`--node-name must be a lowercase DNS subdomain, not ${JSON.stringify(argv['node-name'])}`);
  const port = wholeNumber(argv['read-only-port'], '--read-only-port', 0, 65535);
  if (net.isIP(argv.address) === 0) throw new UsageError(`--address must be an IP address, not ${JSON.stringify(argv.address)}`);
  const maxRestart = wholeNumber(argv['max-container-restart-period'], '--max-container-restart-period', 1, 300);
  const syncFrequency = argv['sync-frequency'];
  if (!Number.isFinite(syncFrequency) || syncFrequency < 0.1 || syncFrequency > 3600) throw new UsageError(`--sync-frequency must be seconds from 0.1 to 3600, not ${String(syncFrequency)}`);
  for (const [flag, value] of [['--pod-manifest-path', argv['pod-manifest-path']], ['--root-dir', argv['root-dir']]] as const) {
    if (value.trim() === '') throw new UsageError(`${flag} must name a folder`);
  }

  const { startKubelet, KubeletOptionsError } = await import('../../kubelet/index.js');
  let kubelet;
  try {
    kubelet = await startKubelet({
      podManifestPath: argv['pod-manifest-path'],
      containerRuntimeEndpoint: runtimeEndpoint,
      ...(imageEndpoint === undefined ? {} : { imageServiceEndpoint: imageEndpoint }),
      csiEndpoints: csi,
      rootDir: argv['root-dir'],
      nodeName: argv['node-name'],
      readOnlyPort: port,
      address: argv.address,
      ...(argv['read-only-socket'] === undefined ? {} : { readOnlySocket: argv['read-only-socket'] }),
      maxContainerRestartPeriodSeconds: maxRestart,
      syncFrequencySeconds: syncFrequency,
      ...(argv['cgroup-parent'] === undefined ? {} : { cgroupParent: argv['cgroup-parent'] }),
      peerKubelets: peers,
      log: (line) => io.progress.write(`kubelet: ${line}\n`),
    });
  } catch (error) {
    if (error instanceof KubeletOptionsError) throw new UsageError(`${flagOf[error.option] ?? error.option}: ${error.message}`);
    throw error;
  }
  const stopped = untilStopSignal();
  io.out.write(`ready ${kubelet.port}\n`);
  const signal = await stopped;
  io.progress.write(`kubeplug kubelet: ${signal}, stopping (pods keep running)\n`);
  await kubelet.close();
}

/** `kubeplug kubelet`: the reference kubelet (static pods, CRI and CSI, read-only port). */
export function kubeletCommand(io: CommandIo) {
  return {
    command: 'kubelet',
    describe: 'Run the reference kubelet: static pods from a folder, driven through CRI and CSI, status on a read-only port',
    builder: (yargs: Argv) =>
      yargs
        .option('pod-manifest-path', { type: 'string', demandOption: true, describe: 'Folder of static pod manifests (YAML or JSON; names starting with "." are ignored)' })
        .option('container-runtime-endpoint', { type: 'string', demandOption: true, describe: 'CRI runtime endpoint, unix:///path.sock' })
        .option('image-service-endpoint', { type: 'string', describe: 'CRI image endpoint (default: the runtime endpoint)' })
        .option('csi-endpoint', { type: 'string', array: true, describe: 'NAME=unix:///path.sock: a CSI driver for inline volumes; repeatable' })
        .option('root-dir', { type: 'string', demandOption: true, describe: 'The kubelet\'s state folder (volumes, pod log folders)' })
        .option('node-name', { type: 'string', demandOption: true, describe: 'This node\'s name (static pods are named <name>-<node-name>)' })
        .option('read-only-port', { type: 'number', demandOption: true, describe: 'Port of /healthz, /pods, /events, /poddisruptionbudgets, evictions and the node (cordon) (0: a free port, printed as "ready PORT")' })
        .option('read-only-socket', { type: 'string', describe: 'Also serve /healthz, /pods and /events on this unix socket (kubeplug addition)' })
        .option('address', { type: 'string', default: '0.0.0.0', describe: 'IP the read-only port listens on' })
        .option('max-container-restart-period', { type: 'number', default: 300, describe: 'Cap of the restart back-off, in seconds' })
        .option('sync-frequency', { type: 'number', default: 1, describe: 'Seconds between full syncs (changes are also picked up as they happen)' })
        .option('cgroup-parent', { type: 'string', describe: 'Cgroup parent of pod sandboxes' })
        .option('peer-kubelet', { type: 'string', array: true, describe: 'http://HOST:PORT or unix:///path.sock of another kubelet whose pods disruption budgets count; repeatable' }),
    handler: (argv: KubeletArgv) => runKubelet(io, argv),
  };
}
