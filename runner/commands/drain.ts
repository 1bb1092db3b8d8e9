/**
 * `kubeplug drain` and `kubeplug uncordon`: kubectl drain / uncordon for
 * nodes named by their kubelets' read-only URLs (issue 7). Progress lines go
 * to stderr, the summary to stdout. Exit codes: 0 every node cordoned and
 * every unfinished pod evicted (uncordon: every node uncordoned); 1 a pod
 * left (timeout, refusal, unreachable kubelet); 2 usage error; 130 stopped
 * by Ctrl-C (SIGINT) or SIGTERM, the nodes staying cordoned.
 */
import type { Argv } from 'yargs';
import { UsageError } from '../usage-error.js';
import type { CommandIo } from './certify.js';

/** The flags both commands take. */
interface KubeletsArgv {
  kubelet?: unknown;
}

interface DrainArgv extends KubeletsArgv {
  timeout: string;
  'grace-period': string;
}

/** Exit code of a drain cut short by a signal (128 + SIGINT, as shells report it). */
const interruptedExitCode = 130;

/** `--kubelet`, repeatable, as clients; duplicates dropped. */
async function kubeletClients(value: unknown) {
  const { KubeletClient, parseKubeletUrl, KubeletUrlError } = await loadDrain();
  const urls = value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String);
  if (urls.length === 0) throw new UsageError('--kubelet is required: the URL of each node\'s kubelet (http://HOST:PORT or unix:///path.sock)');
  const unique = [...new Set(urls)];
  return unique.map((url) => {
    try {
      return new KubeletClient({ url: parseKubeletUrl(url) });
    } catch (error) {
      if (error instanceof KubeletUrlError) throw new UsageError(`--kubelet: ${error.message}`);
      throw error;
    }
  });
}

function loadDrain() {
  return import('../drain/index.js');
}

/** Aborts the returned signal at SIGINT or SIGTERM until `release` is called. */
function abortOnStopSignal(): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

async function runDrain(io: CommandIo, argv: DrainArgv): Promise<void> {
  const drain = await loadDrain();
  let timeoutMs: number;
  try {
    timeoutMs = drain.parseDuration(argv.timeout);
  } catch (error) {
    if (error instanceof drain.DurationSyntaxError) throw new UsageError(`--timeout: ${error.message}`);
    throw error;
  }
  const graceText = String(argv['grace-period']).trim();
  const grace = Number(graceText);
  if (!/^[-+]?\d+$/.test(graceText) || !Number.isSafeInteger(grace)) throw new UsageError(`--grace-period must be a whole number of seconds (negative: each pod's own), not ${JSON.stringify(graceText)}`);
  const kubelets = await kubeletClients(argv.kubelet);
  const stop = abortOnStopSignal();
  let result;
  try {
    result = await drain.drainNodes({
      kubelets,
      timeoutMs,
      gracePeriodSeconds: grace >= 0 ? grace : undefined,
      signal: stop.signal,
      log: (line) => io.progress.write(`${line}\n`),
    });
  } finally {
    stop.release();
  }
  io.out.write(`${drain.formatDrainSummary(result, timeoutMs)}\n`);
  if (drain.drainSucceeded(result)) return;
  const left = result.pods.filter((pod) => pod.outcome !== 'evicted' && pod.outcome !== 'already gone').length;
  const failedNodes = result.nodes.filter((node) => node.outcome === 'failed').length + result.listFailures.length;
  const what = [left > 0 ? `${left} pod${left === 1 ? '' : 's'} left` : '', failedNodes > 0 ? `${failedNodes} node${failedNodes === 1 ? '' : 's'} not drained` : ''].filter((part) => part !== '').join(', ');
  const why = result.ended === 'timeout' ? ` at the timeout (${drain.formatDuration(timeoutMs)})` : result.ended === 'interrupted' ? ' when interrupted' : '';
  io.progress.write(`kubeplug drain: ${what}${why}\n`);
  io.setExitCode(result.ended === 'interrupted' ? interruptedExitCode : 1);
}

async function runUncordon(io: CommandIo, argv: KubeletsArgv): Promise<void> {
  const drain = await loadDrain();
  const kubelets = await kubeletClients(argv.kubelet);
  const stop = abortOnStopSignal();
  let results;
  try {
    results = await drain.setNodesUnschedulable({ kubelets, unschedulable: false, signal: stop.signal, log: (line) => io.progress.write(`${line}\n`) });
  } finally {
    stop.release();
  }
  for (const result of results) {
    io.out.write(result.outcome === 'failed' ? `node${result.node === undefined ? '' : `/${result.node}`} (kubelet ${result.kubelet}) not uncordoned: ${result.error.message}\n` : `node/${result.node} ${result.outcome}\n`);
  }
  if (results.some((result) => result.outcome === 'failed')) io.setExitCode(stop.signal.aborted ? interruptedExitCode : 1);
}

const kubeletOption = {
  type: 'string',
  array: true,
  describe: 'A node\'s kubelet, http://HOST:PORT or unix:///path.sock (its read-only socket); repeatable',
} as const;

/** `kubeplug drain`. */
export function drainCommand(io: CommandIo) {
  return {
    command: 'drain',
    describe: 'Cordon nodes, then evict their pods through their kubelets, honouring PodDisruptionBudgets (kubectl drain)',
    builder: (yargs: Argv) =>
      yargs
        .option('kubelet', kubeletOption)
        .option('timeout', { type: 'string', default: '0', describe: 'Give up after this long: 90s, 5m, 1h or seconds; 0 waits for ever' })
        .option('grace-period', { type: 'string', default: '-1', describe: 'Seconds each pod gets to terminate; negative: the pod\'s own terminationGracePeriodSeconds' }),
    handler: (argv: DrainArgv) => runDrain(io, argv),
  };
}

/** `kubeplug uncordon`. */
export function uncordonCommand(io: CommandIo) {
  return {
    command: 'uncordon',
    describe: 'Mark nodes schedulable again through their kubelets (kubectl uncordon)',
    builder: (yargs: Argv) => yargs.option('kubelet', kubeletOption),
    handler: (argv: KubeletsArgv) => runUncordon(io, argv),
  };
}
