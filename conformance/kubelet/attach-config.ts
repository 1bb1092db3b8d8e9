/**
 * The run configuration of `kubeplug certify kubelet` attached to a kubelet
 * already running: which of the two modes the flags ask for, and the checked
 * flags of the attached one (its manifest folder, its read-only URL, its
 * node name, the real runtime's endpoint, the registry the runtime pulls
 * from). Every flag is checked before anything is written or pushed.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EndpointError, socketPathOf } from '../../specs/grpc/index.js';
import { getFromKubelet, KubeletUrlError, parseKubeletUrl, type KubeletUrl } from './kubelet-url.js';
import { checkedDrainCommand, KubeletRunConfigError } from './run-config.js';

/** Flags only the mode where the harness starts the kubelet takes. */
export const spawnModeFlags = ['--kubelet-cmd', '--runtime'] as const;

/** Flags only the attached mode takes. */
export const attachModeFlags = ['--manifest-dir', '--kubelet-url', '--node-name', '--runtime-endpoint', '--csi-driver', '--root-dir', '--host-path-dir'] as const;

/** Attached-mode flags without which nothing can be certified. */
export const attachModeRequiredFlags = ['--manifest-dir', '--kubelet-url', '--node-name', '--runtime-endpoint', '--registry'] as const;

/** How `certify kubelet` gets its kubelet: it starts one, or attaches to one running. */
export type KubeletCertifyMode = 'spawn' | 'attach';

/**
 * Decides the mode from the flags given (names with their dashes). Any
 * attached-mode flag means attach; mixing in a flag of the other mode, or
 * leaving out a required one, throws {@link KubeletRunConfigError} naming it.
 */
export function kubeletCertifyMode(given: ReadonlySet<string>): KubeletCertifyMode {
  const attachGiven = attachModeFlags.filter((flag) => given.has(flag));
  if (attachGiven.length === 0) return 'spawn';
  const spawnGiven = spawnModeFlags.find((flag) => given.has(flag));
  if (spawnGiven !== undefined) {
    throw new KubeletRunConfigError(
      `${spawnGiven} cannot be used with ${attachGiven[0]}: the harness either starts the kubelet (${spawnModeFlags.join(', ')}) or attaches to a running one (${attachModeFlags.join(', ')})`,
    );
  }
  const missing = attachModeRequiredFlags.find((flag) => !given.has(flag));
  if (missing !== undefined) throw new KubeletRunConfigError(`${missing} is required to attach to a running kubelet (${attachGiven[0]} was given)`);
  return 'attach';
}

/** The attached mode's flags, as given. */
export interface KubeletAttachInput {
  readonly manifestDir: string;
  readonly kubeletUrl: string;
  readonly nodeName: string;
  readonly runtimeEndpoint: string;
  readonly registry: string;
  readonly csiDriver?: string;
  readonly rootDir?: string;
  readonly hostPathDir?: string;
  readonly maxRestartPeriodSeconds?: number;
  readonly drainCmd?: string;
}

/** A checked attached-mode configuration. */
export interface KubeletAttachSettings {
  /** The kubelet's --pod-manifest-path, as the harness sees it (absolute). */
  readonly manifestDir: string;
  readonly kubeletUrl: KubeletUrl;
  /** The kubelet's --node-name (static pods are served as `<name>-<nodeName>`). */
  readonly nodeName: string;
  /** `unix:///…` of the CRI runtime the kubelet drives (not a proxy in front of it). */
  readonly runtimeEndpoint: string;
  /** `HOST:PORT` the suite pushes its image to and the runtime pulls from over plain http. */
  readonly registry: string;
  /** The CSI driver the kubelet has registered, by the name volumes give; unset: the CSI case is not-applicable. */
  readonly csiDriver?: string;
  /** The kubelet's --root-dir as the harness sees it; unset: cases that look there are skipped. */
  readonly rootDir?: string;
  /** A folder the harness, the kubelet and the runtime see at the same path; unset: hostPath cases are skipped. */
  readonly hostPathDir?: string;
  /** The --max-container-restart-period the kubelet runs with (upstream's 300 unless told). */
  readonly maxRestartPeriodSeconds: number;
  /** The drain command template (kubeplug drain's unless told); the cases running it are skipped in this mode, see attachedSkipReasons.ownNode. */
  readonly drainCmd: string;
}

/** Upstream's restart back-off cap (kubelet MaxContainerBackOff), assumed when the running kubelet's is not given. */
export const upstreamMaxRestartPeriodSeconds = 300;

/** `HOST:PORT` (a DNS name, an IPv4 address or a bracketed IPv6 address). */
const registryPattern = /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:]+\]):\d{1,5}$/i;

/** A DNS-1123 subdomain, what Kubernetes accepts as a node name. */
const nodeNamePattern = /^[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$/;

/** Throws naming `flag` unless `dir` is an existing folder. */
function existingFolder(flag: string, dir: string): string {
  const absolute = path.resolve(dir);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch {
    throw new KubeletRunConfigError(`${flag}: ${absolute} does not exist`);
  }
  if (!stat.isDirectory()) throw new KubeletRunConfigError(`${flag}: ${absolute} is not a folder`);
  return absolute;
}

/**
 * Throws naming `flag` unless a file can be made in `dir`: made and removed
 * under a dot name, which a kubelet ignores in its manifest folder
 * (KUBELET-MANIFEST-001), so the running kubelet never sees it.
 */
function writableFolder(flag: string, dir: string): void {
  const probe = path.join(dir, `.kubeplug-write-probe-${randomBytes(4).toString('hex')}`);
  try {
    fs.writeFileSync(probe, '', { flag: 'wx' });
  } catch (error) {
    throw new KubeletRunConfigError(`${flag}: cannot write in ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  fs.rmSync(probe, { force: true });
}

/**
 * Checks the attached mode's flags without reaching the kubelet (see
 * {@link checkKubeletAnswers}); throws {@link KubeletRunConfigError} naming
 * the first bad one.
 */
export function loadKubeletAttachSettings(input: KubeletAttachInput): KubeletAttachSettings {
  const manifestDir = existingFolder('--manifest-dir', input.manifestDir);
  writableFolder('--manifest-dir', manifestDir);
  let kubeletUrl: KubeletUrl;
  try {
    kubeletUrl = parseKubeletUrl(input.kubeletUrl);
  } catch (error) {
    if (error instanceof KubeletUrlError) throw new KubeletRunConfigError(`--kubelet-url: ${error.message}`);
    throw error;
  }
  if (!nodeNamePattern.test(input.nodeName) || input.nodeName.length > 253) {
    throw new KubeletRunConfigError(`--node-name: ${JSON.stringify(input.nodeName)} is not a node name (lower-case letters, digits, '-' and '.')`);
  }
  try {
    socketPathOf(input.runtimeEndpoint);
  } catch (error) {
    if (error instanceof EndpointError) throw new KubeletRunConfigError(`--runtime-endpoint: ${error.message}`);
    throw error;
  }
  if (!registryPattern.test(input.registry)) {
    throw new KubeletRunConfigError(`--registry: ${JSON.stringify(input.registry)} is not HOST:PORT (no scheme, no path), e.g. 10.0.0.1:5000`);
  }
  if (input.csiDriver !== undefined && !/^[a-zA-Z0-9](?:[-a-zA-Z0-9._]*[a-zA-Z0-9])?$/.test(input.csiDriver)) {
    throw new KubeletRunConfigError(`--csi-driver: ${JSON.stringify(input.csiDriver)} is not a CSI driver name`);
  }
  const period = input.maxRestartPeriodSeconds ?? upstreamMaxRestartPeriodSeconds;
  if (!Number.isInteger(period) || period < 1 || period > 3600) {
    throw new KubeletRunConfigError(`--max-restart-period must be a whole number of seconds from 1 to 3600, got ${String(input.maxRestartPeriodSeconds)}`);
  }
  return {
    manifestDir,
    kubeletUrl,
    nodeName: input.nodeName,
    runtimeEndpoint: input.runtimeEndpoint,
    registry: input.registry,
    ...(input.csiDriver === undefined ? {} : { csiDriver: input.csiDriver }),
    ...(input.rootDir === undefined ? {} : { rootDir: existingFolder('--root-dir', input.rootDir) }),
    ...(input.hostPathDir === undefined ? {} : { hostPathDir: existingFolder('--host-path-dir', input.hostPathDir) }),
    maxRestartPeriodSeconds: period,
    drainCmd: checkedDrainCommand(input.drainCmd),
  };
}

/** Throws {@link KubeletRunConfigError} naming --kubelet-url unless its /healthz answers 200 within `timeoutMs`. */
export async function checkKubeletAnswers(url: KubeletUrl, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  let answer;
  try {
    answer = await getFromKubelet(url, '/healthz', timeoutMs);
  } catch (error) {
    throw new KubeletRunConfigError(`--kubelet-url: GET /healthz on ${url.text} failed: ${(error as Error).message}`);
  }
  if (answer.status !== 200) throw new KubeletRunConfigError(`--kubelet-url: GET /healthz on ${url.text} answered ${answer.status} ${answer.body.trim().slice(0, 100)}`);
  return answer;
}
