/**
 * One step per interface of `kubeplug certify all`: start the part (ours or
 * the user's), connect the suite's subject as `certify <iface>` does, run
 * and judge it with the same code, stop the part. CNI, CSI and the kubelet
 * run in this process; CRI runs as a `certify cri` child on the runtime's
 * node (see child-certify.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Environment, KnownDeviation, Suite } from '../../conformance/framework/index.js';
import type { KubeletRunSubject } from '../../conformance/kubelet/index.js';
import { certifySubject, type CommonCertifyOptions, type InterfaceRunPlan } from '../certify-interface.js';
import { kubeletSpecVersion } from '../commands/certify.js';
import type { Certificate } from '../report/certificate.js';
import type { TerminalOutput } from '../report/terminal-report.js';
import { certifyInChild } from './child-certify.js';
import type { CertifyAllNode, NodeInterface, NodeParts } from './node-parts.js';

/** What every step gets. */
export interface StepInput {
  readonly node: CertifyAllNode;
  readonly parts: NodeParts;
  readonly plan: InterfaceRunPlan;
  readonly environment: Environment;
  readonly progress: TerminalOutput;
  /** Aborted on Ctrl-C: the case running stops and no later case starts. */
  readonly signal: AbortSignal;
}

/** A step's certificate, and what went wrong stopping its part (a harness problem). */
export interface StepResult {
  readonly certificate: Certificate;
  readonly teardownProblems: readonly string[];
}

/** The harness could not certify an interface (its part did not start, or its suite could not run). */
export class StepError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StepError';
  }
}

/** Runs `work` and then `stop`, keeping stop's failure as a teardown problem instead of losing the certificate. */
async function thenStop(work: () => Promise<Certificate>, stop: () => Promise<unknown>, label: string): Promise<StepResult> {
  let certificate: Certificate;
  try {
    certificate = await work();
  } catch (error) {
    await Promise.resolve().then(stop).catch(() => undefined);
    throw error;
  }
  try {
    await stop();
    return { certificate, teardownProblems: [] };
  } catch (error) {
    return { certificate, teardownProblems: [`${label}: ${(error as Error).message}`] };
  }
}

async function certifyCniStep(input: StepInput): Promise<StepResult> {
  const [{ createCniSuite, connectCniSubject }, { cniSpecVersion }] = await Promise.all([import('../../conformance/cni/index.js'), import('../../specs/cni/index.js')]);
  const subject = await connectCniSubject({ ...input.node.cniSubject(), invocationTimeoutMs: 30_000 });
  return thenStop(
    () => certifySubject(input.plan, { specVersion: cniSpecVersion, suite: createCniSuite(), subject, environment: input.environment, progress: input.progress, signal: input.signal }),
    async () => subject.close(),
    'closing the CNI subject',
  );
}

async function certifyCsiStep(input: StepInput): Promise<StepResult> {
  const [{ createCsiSuite, connectCsiSubject, loadCsiRunConfig }, { csiSpecVersion }] = await Promise.all([import('../../conformance/csi/index.js'), import('../../specs/csi/index.js')]);
  const driver = input.parts.csi.kind === 'ours' ? await input.node.startCsiDriver() : undefined;
  const endpoint = input.parts.csi.kind === 'user' ? input.parts.csi.endpoint : (driver?.endpoint as string);
  // Fresh mount and staging folders under the run's temporary folder (the private root), removed when the subject closes.
  const config = loadCsiRunConfig({});
  const subject = await connectCsiSubject({ endpoint, connectTimeoutMs: 10_000, callTimeoutMs: 10_000, config }).catch(async (error: unknown) => {
    await driver?.stop();
    throw error;
  });
  return thenStop(
    () => certifySubject(input.plan, { specVersion: csiSpecVersion, suite: createCsiSuite(), subject, environment: input.environment, progress: input.progress, signal: input.signal }),
    async () => {
      subject.close();
      await driver?.stop();
    },
    'stopping the dir-volume driver',
  );
}

/** The CLI flags a `certify <iface>` child takes for the common options. */
function childFlags(flags: CommonCertifyOptions, deviationsFile: string | undefined): string[] {
  return [
    ...flags.focus.flatMap((pattern) => ['--focus', pattern]),
    ...flags.skip.flatMap((pattern) => ['--skip', pattern]),
    ...(flags.strict ? ['--strict'] : []),
    '--case-timeout',
    String(flags.caseTimeoutSeconds),
    ...(deviationsFile === undefined ? [] : ['--known-deviations', deviationsFile]),
  ];
}

/** Writes the deviations of one interface to a file of its own for a child (the user's file may hold every interface's). */
function writeDeviations(dir: string, iface: NodeInterface, deviations: readonly KnownDeviation[]): string | undefined {
  if (deviations.length === 0) return undefined;
  const file = path.join(dir, `${iface}-known-deviations.txt`);
  fs.writeFileSync(file, deviations.map((deviation) => `${deviation.id} ${deviation.reason}\n`).join(''));
  return file;
}

async function certifyCriStep(input: StepInput): Promise<StepResult> {
  const dir = path.join(input.node.root, 'cri-run');
  fs.mkdirSync(dir, { recursive: true });
  const reportFile = path.join(dir, 'cri-certificate.json');
  const deviationsFile = writeDeviations(dir, 'cri', input.plan.knownDeviations);
  const runtime = input.parts.cri.kind === 'ours' ? await input.node.startRuntime() : undefined;
  const endpoint = input.parts.cri.kind === 'user' ? input.parts.cri.endpoint : (runtime?.endpoint as string);
  const args = [
    'certify',
    'cri',
    '--runtime-endpoint',
    endpoint,
    ...(runtime === undefined ? [] : ['--cgroup-parent', runtime.cgroupParent]),
    ...childFlags(input.plan.flags, deviationsFile),
  ];
  return thenStop(
    async () => {
      const result = await certifyInChild({
        args,
        reportFile,
        ...(runtime === undefined ? {} : { enter: { netnsPath: runtime.netns.path, mountNamespaceOf: runtime.pid } }),
        // Everything the child makes in a temporary folder lands under the private root.
        env: { ...process.env, TMPDIR: input.node.root },
        progress: input.progress,
        signal: input.signal,
      });
      if (result.certificate === undefined) {
        const lastLines = result.outputTail.trim().split('\n').slice(-3).join(' / ');
        throw new StepError(`kubeplug certify cri exited ${result.exitCode ?? 'on a signal'} without a certificate: ${lastLines}`);
      }
      return result.certificate;
    },
    async () => {
      const failures = (await runtime?.stop()) ?? [];
      if (failures.length > 0) throw new Error(failures.map((failure) => `${failure.label}: ${failure.message}`).join('; '));
    },
    'stopping the process runtime\'s node',
  );
}

async function certifyKubeletStep(input: StepInput): Promise<StepResult> {
  const kubeletSuite = await import('../../conformance/kubelet/index.js');
  const settings = kubeletSuite.loadKubeletRunSettings(input.parts.kubelet.kind === 'user' ? { kubeletCmd: input.parts.kubelet.command } : {});
  const unavailable = kubeletSuite.kubeletNodeUnavailable(settings);
  if (unavailable !== undefined) throw new StepError(`the kubelet's node cannot start here: ${unavailable}`);
  const subject = await kubeletSuite.connectKubeletSubject({
    settings,
    nodeName: 'kubeplug-all-node',
    registerStop: (stop) => input.node.defer(stop, 'stop the kubelet and its node'),
  });
  return thenStop(
    () =>
      certifySubject(input.plan, {
        specVersion: kubeletSpecVersion,
        // Cases see the KubeletSubject face only.
        suite: kubeletSuite.createKubeletSuite() as unknown as Suite<KubeletRunSubject>,
        subject,
        environment: input.environment,
        progress: input.progress,
        signal: input.signal,
      }),
    async () => {
      subject.close();
      const failures = await subject.closed();
      if (failures.length > 0) throw new Error(failures.map((failure) => `${failure.label}: ${failure.message}`).join('; '));
    },
    'stopping the kubelet\'s node',
  );
}

/** Each interface's step. */
export const interfaceSteps: Readonly<Record<NodeInterface, (input: StepInput) => Promise<StepResult>>> = {
  cni: certifyCniStep,
  csi: certifyCsiStep,
  cri: certifyCriStep,
  kubelet: certifyKubeletStep,
};

/** The spec version each interface's certificate names, for an interface whose step failed before it had one. */
export async function specVersionOf(iface: NodeInterface): Promise<string> {
  switch (iface) {
    case 'cni':
      return (await import('../../specs/cni/index.js')).cniSpecVersion;
    case 'csi':
      return (await import('../../specs/csi/index.js')).csiSpecVersion;
    case 'cri':
      return (await import('../../specs/cri/index.js')).criApiVersion;
    case 'kubelet':
      return kubeletSpecVersion;
  }
}
