import path from 'node:path';
import type { Argv } from 'yargs';
import type { CommonCertifyOptions } from '../certify-interface.js';
import type { Suite } from '../../conformance/framework/index.js';
import type { KubeletAttachSubject, KubeletRunSubject } from '../../conformance/kubelet/index.js';
import type { TerminalOutput } from '../report/terminal-report.js';
import { certifyAllCommand } from '../certify-all/certify-all-command.js';
import { UsageError } from '../usage-error.js';

/** Where a command writes, so tests can capture it. */
export interface CommandIo {
  readonly progress: TerminalOutput;
  readonly out: TerminalOutput;
  setExitCode(code: number): void;
}

/** The flags every `certify` command shares. */
export function commonOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('focus', { type: 'string', array: true, default: [] as string[], describe: 'Run only cases whose requirement IDs or title match this regex (repeatable)' })
    .option('skip', { type: 'string', array: true, default: [] as string[], describe: 'Leave out cases whose requirement IDs or title match this regex (repeatable)' })
    .option('report', { type: 'string', array: true, default: [] as string[], describe: 'Write a report: json=FILE, junit=FILE, tap=FILE or markdown=FILE (repeatable)' })
    .option('known-deviations', { type: 'string', describe: 'File of "ID reason" lines: failures of this subject to report as known' })
    .option('strict', { type: 'boolean', default: false, describe: 'Also fail on MUSTs the spec marks as not checkable by any case' })
    .option('case-timeout', { type: 'number', default: 30, describe: 'Deadline per case, in seconds' });
}

/** The shared flags as the runner takes them. */
export function commonFlags(argv: {
  focus: string[];
  skip: string[];
  report: string[];
  'known-deviations'?: string | undefined;
  strict: boolean;
  'case-timeout': number;
}): CommonCertifyOptions {
  return {
    focus: argv.focus,
    skip: argv.skip,
    report: argv.report,
    ...(argv['known-deviations'] === undefined ? {} : { knownDeviations: argv['known-deviations'] }),
    strict: argv.strict,
    caseTimeoutSeconds: argv['case-timeout'],
  };
}

/** `kubeplug certify <interface>`. */
export function certifyCommand(io: CommandIo) {
  return {
    command: 'certify',
    describe: 'Certify a plugin or kubelet against an interface spec',
    builder: (yargs: Argv) =>
      yargs
        .command({
          command: 'csi',
          describe: 'Certify a CSI plugin listening on a unix socket',
          builder: (sub: Argv) =>
            commonOptions(sub)
              .option('endpoint', { type: 'string', demandOption: true, describe: 'CSI endpoint of the node plugin, unix:///path.sock' })
              .option('controller-endpoint', { type: 'string', describe: 'CSI endpoint of the controller plugin when it listens apart' })
              .option('connect-timeout', { type: 'number', default: 5, describe: 'Seconds to wait for the endpoint to accept a connection' })
              .option('call-timeout', { type: 'number', default: 10, describe: 'Deadline of one gRPC call, in seconds' })
              .option('mount-dir', { type: 'string', describe: 'Existing folder for the publish targets the suite makes (default: a fresh temp folder)' })
              .option('staging-dir', { type: 'string', describe: 'Existing folder for the staging folders the suite makes (default: a fresh temp folder)' })
              .option('secrets', { type: 'string', describe: 'YAML or JSON file of secrets per RPC, keys as csi-sanity\'s (CreateVolumeSecret, NodeStageVolumeSecret, …)' })
              .option('test-volume-parameters', { type: 'string', describe: 'YAML or JSON map sent as parameters of every CreateVolume' })
              .option('test-volume-size', { type: 'number', describe: 'Bytes to ask for when a case needs no particular size (default 64 MiB)' })
              .option('restart-command', {
                type: 'string',
                describe: 'Shell command that restarts the plugin on the same endpoints; cases that restart the plugin between calls need it',
              }),
          handler: async (argv) => {
            // Loaded here so `kubeplug --help` and `list` do not pay for gRPC.
            const [
              { certifyInterface },
              { createCsiSuite, connectCsiSubject, loadCsiRunConfig, CsiRunConfigError },
              { csiSpecVersion, EndpointError, EndpointUnreachableError },
              { removeEmptyFolders },
            ] =
              await Promise.all([
                import('../certify-interface.js'),
                import('../../conformance/csi/index.js'),
                import('../../specs/csi/index.js'),
                import('../../conformance/csi/remove-empty-folders.js'),
              ]);
            const endpoint = argv.endpoint;
            const controllerEndpoint = argv['controller-endpoint'];
            const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
              (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
            let config;
            try {
              config = loadCsiRunConfig({
                ...optional('mountDir', argv['mount-dir']),
                ...optional('stagingDir', argv['staging-dir']),
                ...optional('secretsFile', argv.secrets),
                ...optional('testVolumeParametersFile', argv['test-volume-parameters']),
                ...optional('testVolumeSizeBytes', argv['test-volume-size']),
                ...optional('restartCommand', argv['restart-command']),
              });
            } catch (error) {
              if (error instanceof CsiRunConfigError) throw new UsageError(error.message);
              throw error;
            }
            // The subject removes the folders the run made when it closes; a usage error before it exists must remove them too.
            let subjectOpened = false;
            try {
              const { exitCode } = await certifyInterface({
                iface: 'csi',
                specVersion: csiSpecVersion,
                suite: createCsiSuite(),
                connect: async () => {
                  try {
                    const subject = await connectCsiSubject({
                      endpoint,
                      ...(controllerEndpoint === undefined ? {} : { controllerEndpoint }),
                      connectTimeoutMs: argv['connect-timeout'] * 1000,
                      callTimeoutMs: argv['call-timeout'] * 1000,
                      config,
                    });
                    subjectOpened = true;
                    return subject;
                  } catch (error) {
                    if (error instanceof EndpointUnreachableError || error instanceof EndpointError) {
                      const flag = error instanceof EndpointUnreachableError && error.endpoint === controllerEndpoint ? '--controller-endpoint' : '--endpoint';
                      throw new UsageError(`${flag}: ${error.message}`);
                    }
                    throw error;
                  }
                },
                flags: commonFlags(argv),
                progress: io.progress,
                out: io.out,
              });
              io.setExitCode(exitCode);
            } finally {
              if (!subjectOpened && config.ownsDirs) removeEmptyFolders(path.dirname(config.mountDir));
            }
          },
        })
        .command(certifyCriCommand(io))
        .command({
          command: 'cni',
          describe: 'Certify CNI plugin executables with a network configuration (needs root: real namespaces)',
          builder: (sub: Argv) =>
            commonOptions(sub)
              .option('cni-path', { type: 'string', array: true, demandOption: true, describe: 'Folder(s) holding the plugin executables (repeatable, or colon-separated)' })
              .option('conf', { type: 'string', demandOption: true, describe: 'Network configuration: a .conflist or a single-plugin .conf file' })
              .option('cni-version', { type: 'string', describe: 'Certify at this spec version instead of the configuration\'s' })
              .option('invocation-timeout', { type: 'number', default: 30, describe: 'Deadline of one plugin invocation, in seconds' })
              .option('node-agent', {
                type: 'string',
                describe: 'Command (words split on blanks) of a resident per-node process the plugins need; run in every node namespace the suite makes, ready at its first stdout line, stopped with SIGTERM',
              }),
          handler: async (argv) => {
            const [{ certifyInterface }, { createCniSuite, connectCniSubject, CniSubjectError }, { cniSpecVersion }] = await Promise.all([
              import('../certify-interface.js'),
              import('../../conformance/cni/index.js'),
              import('../../specs/cni/index.js'),
            ]);
            if (process.getuid?.() !== 0) {
              throw new UsageError('certify cni needs root: every case runs the plugins in network namespaces it creates');
            }
            const cniPath = argv['cni-path'].flatMap((entry) => entry.split(':')).filter((dir) => dir !== '');
            const cniVersion = argv['cni-version'];
            const nodeAgent = argv['node-agent']?.split(/\s+/).filter((word) => word !== '');
            if (nodeAgent !== undefined && nodeAgent.length === 0) throw new UsageError('--node-agent: the command is empty');
            const { exitCode } = await certifyInterface({
              iface: 'cni',
              specVersion: cniSpecVersion,
              suite: createCniSuite(),
              connect: async () => {
                try {
                  return await connectCniSubject({
                    cniPath,
                    confFile: argv.conf,
                    ...(cniVersion === undefined ? {} : { cniVersion }),
                    invocationTimeoutMs: argv['invocation-timeout'] * 1000,
                    ...(nodeAgent === undefined ? {} : { nodeAgent }),
                  });
                } catch (error) {
                  if (error instanceof CniSubjectError) throw new UsageError(error.message);
                  throw error;
                }
              },
              flags: commonFlags(argv),
              progress: io.progress,
              out: io.out,
            });
            io.setExitCode(exitCode);
          },
        })
        .command(certifyKubeletCommand(io))
        .command(certifyAllCommand(io))
        .demandCommand(1, 'name an interface: csi, cri, cni, kubelet or all'),
    handler: () => {},
  };
}

/** `kubeplug certify cri`: flag names as critest's (`--runtime-endpoint`, `--image-endpoint`, `--registry`). */
function certifyCriCommand(io: CommandIo) {
  return {
    command: 'cri',
    describe: 'Certify a CRI runtime listening on a unix socket (cases that mount host folders need root)',
    builder: (sub: Argv) =>
      commonOptions(sub)
        .option('runtime-endpoint', { type: 'string', demandOption: true, describe: 'CRI RuntimeService endpoint, unix:///path.sock' })
        .option('image-endpoint', { type: 'string', describe: 'CRI ImageService endpoint when it listens apart (default: --runtime-endpoint)' })
        .option('registry', {
          type: 'string',
          describe: 'HOST:PORT of a registry the runtime pulls from over plain HTTP; the suite pushes its test images there (default: it starts Debian\'s docker-registry on 127.0.0.1)',
        })
        .option('cgroup-parent', { type: 'string', describe: 'cgroup_parent of the sandboxes the suite runs (default: a cgroupfs path of its own, removed at the end)' })
        .option('connect-timeout', { type: 'number', default: 5, describe: 'Seconds to wait for the endpoints to accept a connection' })
        .option('call-timeout', { type: 'number', default: 30, describe: 'Deadline of one gRPC call, in seconds' })
        .option('restart-command', {
          type: 'string',
          describe: 'Shell command that restarts the runtime on the same endpoints; cases that restart the runtime need it',
        }),
    handler: async (argv: {
      focus: string[];
      skip: string[];
      report: string[];
      'known-deviations'?: string | undefined;
      strict: boolean;
      'case-timeout': number;
      'runtime-endpoint': string;
      'image-endpoint'?: string | undefined;
      registry?: string | undefined;
      'cgroup-parent'?: string | undefined;
      'connect-timeout': number;
      'call-timeout': number;
      'restart-command'?: string | undefined;
    }) => {
      // Loaded here so `kubeplug --help` and `list` do not pay for gRPC.
      const [{ certifyInterface }, { createCriSuite, connectCriSubject, loadCriRunSettings, CriRunConfigError }, { criApiVersion, EndpointError, EndpointUnreachableError }] =
        await Promise.all([import('../certify-interface.js'), import('../../conformance/cri/index.js'), import('../../specs/cri/index.js')]);
      const runtimeEndpoint = argv['runtime-endpoint'];
      const imageEndpoint = argv['image-endpoint'];
      if (!Number.isFinite(argv['call-timeout']) || argv['call-timeout'] <= 0) {
        throw new UsageError(`--call-timeout must be a positive number of seconds, got ${argv['call-timeout']}`);
      }
      let settings;
      try {
        settings = loadCriRunSettings({
          ...(argv.registry === undefined ? {} : { registry: argv.registry }),
          ...(argv['cgroup-parent'] === undefined ? {} : { cgroupParent: argv['cgroup-parent'] }),
          ...(argv['restart-command'] === undefined ? {} : { restartCommand: argv['restart-command'] }),
        });
      } catch (error) {
        if (error instanceof CriRunConfigError) throw new UsageError(error.message);
        throw error;
      }
      const { exitCode } = await certifyInterface({
        iface: 'cri',
        specVersion: criApiVersion,
        suite: createCriSuite(),
        connect: async () => {
          try {
            return await connectCriSubject({
              runtimeEndpoint,
              ...(imageEndpoint === undefined ? {} : { imageEndpoint }),
              connectTimeoutMs: argv['connect-timeout'] * 1000,
              callTimeoutMs: argv['call-timeout'] * 1000,
              settings,
            });
          } catch (error) {
            if (error instanceof EndpointUnreachableError || error instanceof EndpointError) {
              const flag = error instanceof EndpointUnreachableError && error.endpoint === imageEndpoint && imageEndpoint !== runtimeEndpoint ? '--image-endpoint' : '--runtime-endpoint';
              throw new UsageError(`${flag}: ${error.message}`);
            }
            if (error instanceof CriRunConfigError) throw new UsageError(error.message);
            throw error;
          }
        },
        flags: commonFlags(argv),
        progress: io.progress,
        out: io.out,
      });
      io.setExitCode(exitCode);
    },
  };
}

/** The flags of `kubeplug certify kubelet`, both modes. */
interface CertifyKubeletArgv {
  focus: string[];
  skip: string[];
  report: string[];
  'known-deviations'?: string | undefined;
  strict: boolean;
  'case-timeout': number;
  'kubelet-cmd'?: string | undefined;
  runtime?: string | undefined;
  registry?: string | undefined;
  'max-restart-period'?: number | undefined;
  'manifest-dir'?: string | undefined;
  'kubelet-url'?: string | undefined;
  'node-name'?: string | undefined;
  'runtime-endpoint'?: string | undefined;
  'csi-driver'?: string | undefined;
  'root-dir'?: string | undefined;
  'host-path-dir'?: string | undefined;
  'drain-cmd'?: string | undefined;
}

/**
 * `kubeplug certify kubelet`, in one of two modes. Started: the harness
 * starts a node (a CRI runtime in namespaces of its own, a registry, the
 * dir-volume CSI driver, spy proxies), runs the kubelet from `--kubelet-cmd`
 * on it, certifies it, and stops it all. Attached (`--manifest-dir`,
 * `--kubelet-url`…): it certifies a kubelet already running, through its
 * manifest folder, its read-only URL and its runtime's endpoint.
 */
function certifyKubeletCommand(io: CommandIo) {
  return {
    command: 'kubelet',
    describe: 'Certify a kubelet: started by the harness on a node of its own (needs root), or attached to one running (--manifest-dir, --kubelet-url…)',
    builder: (sub: Argv) =>
      commonOptions(sub)
        .option('kubelet-cmd', {
          type: 'string',
          describe:
            'Command template that starts the kubelet; placeholders {manifests} {cri} {csi} {csi-driver} {port} {root} {node-name} {max-restart-period} {cgroup-parent} (default: kubeplug kubelet)',
        })
        .option('runtime', { type: 'string', describe: "The node's CRI runtime: kubeplug (the process runtime, the default) or containerd (Debian's, with upstream CNI plugins)" })
        .option('registry', {
          type: 'string',
          describe:
            "HOST:PORT of a registry the suite pushes its test image to and the runtime pulls from; started mode: 127.0.0.1:PORT (default: it starts Debian's docker-registry); attached mode: required",
        })
        .option('max-restart-period', {
          type: 'number',
          describe: 'Restart back-off cap the kubelet runs with, in seconds (started: {max-restart-period}, default 20; attached: what it was started with, default 300)',
        })
        .option('manifest-dir', { type: 'string', describe: "Attach: the running kubelet's static pod folder (--pod-manifest-path); must exist and be writable" })
        .option('kubelet-url', { type: 'string', describe: "Attach: the running kubelet's read-only endpoints, http://HOST:PORT or unix:///path (--read-only-socket); /healthz must answer" })
        .option('node-name', { type: 'string', describe: "Attach: the running kubelet's --node-name" })
        .option('runtime-endpoint', { type: 'string', describe: 'Attach: unix:///… of the CRI runtime the kubelet drives (the suite runs exec and stops sandboxes there)' })
        .option('csi-driver', { type: 'string', describe: 'Attach: name of a CSI driver the kubelet has registered (without it the CSI case is not-applicable)' })
        .option('root-dir', { type: 'string', describe: "Attach: the kubelet's --root-dir as this machine sees it (without it the emptyDir removal case is skipped)" })
        .option('host-path-dir', { type: 'string', describe: 'Attach: a folder the harness, the kubelet and the runtime see at the same path, for hostPath volumes (without it that case is skipped)' })
        .option('drain-cmd', {
          type: 'string',
          describe: 'Command template of the drain the KUBELET-DRAIN cases run; placeholders {kubelet-url} {timeout} (default: kubeplug drain --kubelet {kubelet-url} --timeout {timeout})',
        }),
    handler: async (argv: CertifyKubeletArgv) => {
      const [{ certifyInterface }, kubeletSuite] = await Promise.all([import('../certify-interface.js'), import('../../conformance/kubelet/index.js')]);
      const given = new Set(
        (
          [
            ['--kubelet-cmd', argv['kubelet-cmd']],
            ['--runtime', argv.runtime],
            ['--registry', argv.registry],
            ['--manifest-dir', argv['manifest-dir']],
            ['--kubelet-url', argv['kubelet-url']],
            ['--node-name', argv['node-name']],
            ['--runtime-endpoint', argv['runtime-endpoint']],
            ['--csi-driver', argv['csi-driver']],
            ['--root-dir', argv['root-dir']],
            ['--host-path-dir', argv['host-path-dir']],
          ] as const
        ).flatMap(([flag, value]) => (value === undefined ? [] : [flag])),
      );
      let mode;
      try {
        mode = kubeletSuite.kubeletCertifyMode(given);
      } catch (error) {
        if (error instanceof kubeletSuite.KubeletRunConfigError) throw new UsageError(error.message);
        throw error;
      }
      if (mode === 'attach') {
        await certifyAttachedKubelet(io, argv, kubeletSuite, certifyInterface);
        return;
      }
      if (process.getuid?.() !== 0) {
        throw new UsageError('certify kubelet needs root: the kubelet runs on a node of network and mount namespaces, cgroups and mounts the harness makes');
      }
      let settings;
      try {
        settings = kubeletSuite.loadKubeletRunSettings({
          ...(argv['kubelet-cmd'] === undefined ? {} : { kubeletCmd: argv['kubelet-cmd'] }),
          ...(argv.runtime === undefined ? {} : { runtime: argv.runtime }),
          ...(argv.registry === undefined ? {} : { registry: argv.registry }),
          ...(argv['max-restart-period'] === undefined ? {} : { maxRestartPeriodSeconds: argv['max-restart-period'] }),
          ...(argv['drain-cmd'] === undefined ? {} : { drainCmd: argv['drain-cmd'] }),
        });
      } catch (error) {
        if (error instanceof kubeletSuite.KubeletRunConfigError) throw new UsageError(error.message);
        throw error;
      }
      const unavailable = kubeletSuite.kubeletNodeUnavailable(settings);
      if (unavailable !== undefined) throw new UsageError(`certify kubelet: the node cannot start here: ${unavailable}`);
      let subject: KubeletRunSubject | undefined;
      try {
        const { exitCode } = await certifyInterface({
          iface: 'kubelet',
          specVersion: kubeletSpecVersion,
          // Cases see the KubeletSubject face only; the runner also closes it.
          suite: kubeletSuite.createKubeletSuite() as unknown as Suite<KubeletRunSubject>,
          connect: async () => {
            subject = await kubeletSuite.connectKubeletSubject({ settings, exitOnSignal: true });
            return subject;
          },
          flags: commonFlags(argv),
          progress: io.progress,
          out: io.out,
        });
        io.setExitCode(exitCode);
      } finally {
        // The runner only starts closing; the node is stopped (and checked) before the command returns.
        const failures = (await subject?.closed()) ?? [];
        if (failures.length > 0) {
          io.progress.write(`kubeplug certify kubelet: stopping the node left problems: ${failures.map((failure) => `${failure.label}: ${failure.message}`).join('; ')}\n`);
          io.setExitCode(2);
        }
      }
    },
  };
}

/** The attached mode of `certify kubelet`: flags checked, the kubelet and runtime reached, then the suite run; nothing of the kubelet is started or stopped. */
async function certifyAttachedKubelet(
  io: CommandIo,
  argv: CertifyKubeletArgv,
  kubeletSuite: typeof import('../../conformance/kubelet/index.js'),
  certifyInterface: typeof import('../certify-interface.js').certifyInterface,
): Promise<void> {
  const required = (value: string | undefined, flag: string): string => {
    // kubeletCertifyMode has checked these; this only narrows the type.
    if (value === undefined) throw new UsageError(`${flag} is required to attach to a running kubelet`);
    return value;
  };
  let settings;
  try {
    settings = kubeletSuite.loadKubeletAttachSettings({
      manifestDir: required(argv['manifest-dir'], '--manifest-dir'),
      kubeletUrl: required(argv['kubelet-url'], '--kubelet-url'),
      nodeName: required(argv['node-name'], '--node-name'),
      runtimeEndpoint: required(argv['runtime-endpoint'], '--runtime-endpoint'),
      registry: required(argv.registry, '--registry'),
      ...(argv['csi-driver'] === undefined ? {} : { csiDriver: argv['csi-driver'] }),
      ...(argv['root-dir'] === undefined ? {} : { rootDir: argv['root-dir'] }),
      ...(argv['host-path-dir'] === undefined ? {} : { hostPathDir: argv['host-path-dir'] }),
      ...(argv['max-restart-period'] === undefined ? {} : { maxRestartPeriodSeconds: argv['max-restart-period'] }),
      ...(argv['drain-cmd'] === undefined ? {} : { drainCmd: argv['drain-cmd'] }),
    });
    // Before anything else runs, so an unreachable kubelet is a usage error naming the flag, not a harness error.
    await kubeletSuite.checkKubeletAnswers(settings.kubeletUrl);
  } catch (error) {
    if (error instanceof kubeletSuite.KubeletRunConfigError) throw new UsageError(error.message);
    throw error;
  }
  const { exitCode } = await certifyInterface({
    iface: 'kubelet',
    specVersion: kubeletSpecVersion,
    suite: kubeletSuite.createKubeletSuite() as unknown as Suite<KubeletAttachSubject>,
    connect: async () => {
      try {
        return await kubeletSuite.attachKubeletSubject(settings, { exitOnSignal: true });
      } catch (error) {
        if (error instanceof kubeletSuite.KubeletRunConfigError) throw new UsageError(error.message);
        throw error;
      }
    },
    flags: commonFlags(argv),
    progress: io.progress,
    out: io.out,
  });
  io.setExitCode(exitCode);
}

/** The kubernetes release the kubelet spec restates. */
export const kubeletSpecVersion = 'v1.36.3';
