/**
 * Static pod manifests and their validation (KUBELET-MANIFEST): which files
 * become pods, how they are named, what the API server would refuse and how
 * a refusal shows, and that nothing bad in the folder disturbs running pods.
 * The kubelet has no API server here, so it validates as upstream's
 * pkg/apis/core/validation does (kubernetes/kubernetes v1.36.3).
 */
import { stringify } from 'yaml';
import type { CaseContext, Suite } from '../framework/index.js';
import type { Container, Pod, Probe } from '../../kubelet/api/pod-types.js';
import type { KubeletSubject } from './kubelet-subject.js';
import {
  awaitPod,
  budgetMs,
  callsOf,
  callsView,
  execCommand,
  isRunning,
  lifecycleCalls,
  pause,
  podCalls,
  podNamed,
  podView,
  removePod,
  shellContainer,
  sleeperContainer,
  testPod,
  withManifest,
  type TestPod,
} from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

/** Whether every container of the pod runs. */
function allRunning(pod: Pod): boolean {
  return pod.spec.containers.every((container) => isRunning(pod, container.name));
}

/** The IDs of the pod's containers, by name, from /pods. */
function containerIds(pod: Pod | undefined): Record<string, string | undefined> {
  return Object.fromEntries((pod?.status?.containerStatuses ?? []).map((status) => [status.name, status.containerID]));
}

/** A manifest file the case writes as given and removes afterwards. */
async function withRawManifest(ctx: Ctx, fileName: string, text: string): Promise<void> {
  ctx.defer(() => ctx.subject.removeManifest(fileName), `remove ${fileName}`);
  await ctx.subject.writeManifest(fileName, text);
}

/** RunPodSandbox calls whose sandbox metadata names `podName` (the served name). */
function sandboxesNamed(subject: KubeletSubject, podName: string): number {
  return subject.criCalls().filter((call) => call.method === 'RunPodSandbox' && JSON.stringify(call.request).includes(`"name":"${podName}"`)).length;
}

/** Waits for a refused pod: Failed with reason InvalidManifest. */
function awaitRefused(ctx: Ctx, pod: TestPod, ids: readonly string[]): Promise<Pod> {
  return awaitPod(ctx, pod, 'refused: phase Failed, reason InvalidManifest', (seen) => seen.status?.phase === 'Failed' && seen.status.reason === 'InvalidManifest', {
    timeoutMs: budgetMs(ctx.subject, 5),
    ids,
  });
}

/** One refused manifest of a table: the pod spec change and the field its error must name. */
interface Refusal {
  readonly what: string;
  /** The field the message must name; with a list, any one of them (where upstream's choice is one of several equally right ones). */
  readonly field: string | readonly string[];
  readonly containers?: (subject: KubeletSubject) => Container[];
  readonly initContainers?: (subject: KubeletSubject) => Container[];
}

/** An exec probe that succeeds, for the probe tables. */
const okExec = { exec: { command: ['true'] } };

/** Declares a case per requirement that writes each refusal of the table and checks the pod's message names its field. */
function declareRefusalTable(suite: Suite<KubeletSubject>, id: string, title: string, refusals: readonly Refusal[]): void {
  suite.declare({
    ids: [id],
    title,
    timeoutMs: 45_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pods = refusals.map((refusal, index) =>
        testPod(ctx, `refused-${index}`, {
          ...(refusal.initContainers === undefined ? {} : { initContainers: refusal.initContainers(subject) }),
          containers: refusal.containers?.(subject) ?? [sleeperContainer(subject, 'app')],
        }),
      );
      for (const pod of pods) await withManifest(ctx, pod);
      for (const [index, pod] of pods.entries()) {
        const refusal = refusals[index] as Refusal;
        let seen: Pod | undefined;
        try {
          seen = await subject.waitForPod(pod.name, (found) => found.status?.phase === 'Failed' && found.status.reason === 'InvalidManifest', budgetMs(subject, 5), 'refused');
        } catch {
          seen = await subject.pod(pod.name);
        }
        const message = seen?.status?.message ?? '';
        const fields = typeof refusal.field === 'string' ? [refusal.field] : refusal.field;
        ctx.check(seen?.status?.phase === 'Failed' && fields.some((field) => message.includes(field)), {
          what: `${refusal.what}: refused, the message naming ${fields.join(' or ')}`,
          expected: { phase: 'Failed', reason: 'InvalidManifest', messageIncludes: fields.length === 1 ? fields[0] : { anyOf: fields } },
          got: { phase: seen?.status?.phase, reason: seen?.status?.reason, message, containers: pod.manifest.spec },
        });
      }
    },
  });
}

/** A busybox container with a probe or hook of its own, for the tables. */
function probed(subject: KubeletSubject, name: string, extra: Partial<Container>): Container {
  return sleeperContainer(subject, name, extra);
}

/** Declares the manifest cases. */
export function declareManifestCases(suite: Suite<KubeletSubject>): void {
  suite.declare({
    ids: ['KUBELET-MANIFEST-001'],
    title: 'Every YAML or JSON file of the manifest folder becomes a pod, and a file whose name starts with a dot is ignored',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const asYaml = testPod(ctx, 'yaml', { containers: [sleeperContainer(subject, 'app')] });
      const asJson = testPod(ctx, 'json', { containers: [sleeperContainer(subject, 'app')] });
      const hidden = testPod(ctx, 'dotfile', { containers: [sleeperContainer(subject, 'app')] });
      const yamlFile = `${asYaml.name}.yaml`;
      ctx.defer(() => removePod(ctx, { ...asYaml, fileName: yamlFile }), `remove pod ${asYaml.name}`);
      await subject.writeManifest(yamlFile, stringify(asYaml.manifest));
      await withManifest(ctx, asJson);
      await withRawManifest(ctx, `.${hidden.name}.json`, JSON.stringify(hidden.manifest));
      const yamlPod = await awaitPod(ctx, asYaml, 'the YAML manifest\'s pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      const jsonPod = await awaitPod(ctx, asJson, 'the JSON manifest\'s pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      ctx.check(true, { what: 'a YAML file and a JSON file both became running pods', expected: 'both Running', got: { yaml: podView(yamlPod), json: podView(jsonPod) } });
      await pause(ctx, 3 * subject.syncMs);
      const hiddenSeen = await subject.pod(hidden.name);
      ctx.check(hiddenSeen === undefined && sandboxesNamed(subject, podNamed(subject, hidden.name)) === 0, {
        what: `the dot file .${hidden.name}.json became no pod and got no sandbox`,
        expected: 'not in /pods, no RunPodSandbox',
        got: { inPods: podView(hiddenSeen), runPodSandboxCalls: sandboxesNamed(subject, podNamed(subject, hidden.name)) },
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-MANIFEST-002'],
    title: 'A static pod is named <name>-<node name>, defaults to namespace default, and a changed manifest becomes a new pod with a new UID',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'static-uid', { containers: [sleeperContainer(subject, 'app')] });
      const withoutNamespace: Pod = { ...pod.manifest, metadata: { name: pod.name, labels: { version: 'one' } } };
      ctx.defer(() => removePod(ctx, pod), `remove pod ${pod.name}`);
      await subject.writeManifest(pod.fileName, withoutNamespace);
      const first = await awaitPod(ctx, pod, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      ctx.check(first.metadata.name === podNamed(subject, pod.name), {
        what: 'the pod is named after the manifest with the node name appended',
        expected: podNamed(subject, pod.name),
        got: first.metadata.name,
      });
      ctx.check((first.metadata.namespace ?? '') === 'default', { what: 'a manifest without namespace gives namespace default', expected: 'default', got: first.metadata.namespace ?? null });
      ctx.check(typeof first.metadata.uid === 'string' && first.metadata.uid !== '', { what: 'the pod has a UID', expected: 'a non-empty UID', got: first.metadata.uid ?? null });
      await subject.writeManifest(pod.fileName, { ...withoutNamespace, metadata: { ...withoutNamespace.metadata, labels: { version: 'two' } } });
      const second = await awaitPod(ctx, pod, 'the changed manifest\'s pod runs under another UID', (seen) => seen.metadata.uid !== first.metadata.uid && allRunning(seen), {
        timeoutMs: budgetMs(subject, 25),
      });
      ctx.check(second.metadata.uid !== first.metadata.uid, {
        what: 'changing the manifest (a label) gives the pod a new UID',
        expected: `a UID other than ${first.metadata.uid}`,
        got: second.metadata.uid ?? null,
      });
      const oldCalls = podCalls(subject, first.metadata.uid);
      const newCalls = podCalls(subject, second.metadata.uid);
      ctx.check(callsOf(newCalls, 'RunPodSandbox').length === 1, {
        what: 'the new pod got a sandbox of its own',
        expected: 'one RunPodSandbox labelled with the new UID',
        got: callsView(lifecycleCalls(newCalls)),
      });
      ctx.check(callsOf(oldCalls, 'StopPodSandbox').length >= 1, {
        what: 'the old pod (old UID) was stopped',
        expected: 'StopPodSandbox for the old UID\'s sandbox',
        got: callsView(lifecycleCalls(oldCalls)),
      });
    },
  });

  declareRefusalTable(suite, 'KUBELET-MANIFEST-003', 'Container names repeated across init and app containers are refused, naming the repeated name\'s field', [
    {
      what: 'two app containers named alike',
      field: 'spec.containers[1].name',
      containers: (subject) => [sleeperContainer(subject, 'same'), sleeperContainer(subject, 'same')],
    },
    {
      what: 'an app container named like an init container',
      // Upstream's validateInitContainers reports the init container's name against the app containers' names.
      field: ['spec.initContainers[0].name', 'spec.containers[0].name'],
      initContainers: (subject) => [shellContainer(subject, 'shared', 'true')],
      containers: (subject) => [sleeperContainer(subject, 'shared')],
    },
  ]);

  declareRefusalTable(suite, 'KUBELET-MANIFEST-004', 'An init container that is not a sidecar and has a probe or a lifecycle hook is refused, naming the field', [
    { what: 'init container with livenessProbe', field: 'spec.initContainers[0].livenessProbe', initContainers: (subject) => [shellContainer(subject, 'init', 'true', { livenessProbe: okExec })] },
    { what: 'init container with readinessProbe', field: 'spec.initContainers[0].readinessProbe', initContainers: (subject) => [shellContainer(subject, 'init', 'true', { readinessProbe: okExec })] },
    { what: 'init container with startupProbe', field: 'spec.initContainers[0].startupProbe', initContainers: (subject) => [shellContainer(subject, 'init', 'true', { startupProbe: okExec })] },
    {
      what: 'init container with a postStart hook',
      field: 'spec.initContainers[0].lifecycle',
      initContainers: (subject) => [shellContainer(subject, 'init', 'true', { lifecycle: { postStart: { exec: { command: ['true'] } } } })],
    },
  ]);

  declareRefusalTable(suite, 'KUBELET-MANIFEST-005', 'Ports outside 1..65535 and probe ports naming no declared port are refused, naming the field', [
    { what: 'containerPort 70000', field: 'spec.containers[0].ports[0].containerPort', containers: (subject) => [probed(subject, 'app', { ports: [{ containerPort: 70000 }] })] },
    { what: 'containerPort 0', field: 'spec.containers[0].ports[0].containerPort', containers: (subject) => [probed(subject, 'app', { ports: [{ containerPort: 0 }] })] },
    {
      what: 'a liveness httpGet port of 65536',
      field: 'spec.containers[0].livenessProbe.httpGet.port',
      containers: (subject) => [probed(subject, 'app', { livenessProbe: { httpGet: { port: 65536, path: '/' } } })],
    },
    {
      what: 'a readiness tcpSocket port named but not declared',
      field: 'spec.containers[0].readinessProbe.tcpSocket.port',
      containers: (subject) => [probed(subject, 'app', { ports: [{ name: 'web', containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 'nosuchport' } } })],
    },
    {
      what: 'a preStop httpGet port of 0',
      field: 'spec.containers[0].lifecycle.preStop.httpGet.port',
      containers: (subject) => [probed(subject, 'app', { lifecycle: { preStop: { httpGet: { port: 0, path: '/' } } } })],
    },
  ]);

  const probeField = (probe: Probe, field: string, what: string): Refusal => ({
    what,
    field: `spec.containers[0].${field}`,
    containers: (subject) => [probed(subject, 'app', { [field.split('.')[0] as string]: probe })],
  });
  declareRefusalTable(suite, 'KUBELET-MANIFEST-006', 'Probe fields out of range, and probes with no handler or two, are refused, naming the field', [
    probeField({ ...okExec, periodSeconds: -1 }, 'livenessProbe.periodSeconds', 'periodSeconds -1'),
    probeField({ ...okExec, timeoutSeconds: -1 }, 'readinessProbe.timeoutSeconds', 'timeoutSeconds -1'),
    probeField({ ...okExec, failureThreshold: -1 }, 'readinessProbe.failureThreshold', 'failureThreshold -1'),
    probeField({ ...okExec, initialDelaySeconds: -1 }, 'livenessProbe.initialDelaySeconds', 'initialDelaySeconds -1'),
    probeField({ ...okExec, successThreshold: 2 }, 'livenessProbe.successThreshold', 'successThreshold 2 on a liveness probe'),
    probeField({ ...okExec, successThreshold: 2 }, 'startupProbe.successThreshold', 'successThreshold 2 on a startup probe'),
    probeField({ ...okExec, tcpSocket: { port: 80 } }, 'readinessProbe', 'two handlers (exec and tcpSocket)'),
    probeField({ periodSeconds: 5 }, 'startupProbe', 'no handler'),
  ]);

  suite.declare({
    ids: ['KUBELET-MANIFEST-007'],
    title: 'A refused manifest shows as a Failed pod with reason InvalidManifest and a message naming the field, gets a FailedValidation event, and no CRI call',
    timeoutMs: 45_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'invalid', { containers: [sleeperContainer(subject, 'app', { ports: [{ containerPort: 99999 }] })] });
      const field = 'spec.containers[0].ports[0].containerPort';
      await withManifest(ctx, pod);
      const refused = await awaitRefused(ctx, pod, ['KUBELET-MANIFEST-007']);
      ctx.check(refused.status?.phase === 'Failed' && refused.status.reason === 'InvalidManifest', {
        what: 'the refused pod is in /pods as Failed, reason InvalidManifest',
        expected: { phase: 'Failed', reason: 'InvalidManifest' },
        got: { phase: refused.status?.phase, reason: refused.status?.reason },
      });
      ctx.check((refused.status?.message ?? '').includes(field), { what: 'its message names the refused field', expected: `a message including ${field}`, got: refused.status?.message ?? null });
      let events: string[] = [];
      const until = Date.now() + budgetMs(subject, 3);
      for (;;) {
        events = (await subject.events())
          .filter((event) => event.reason === 'FailedValidation' && (event.involvedObject.name === podNamed(subject, pod.name) || event.involvedObject.uid === refused.metadata.uid))
          .map((event) => event.message);
        if (events.length > 0 || Date.now() > until) break;
        await pause(ctx, 300);
      }
      ctx.check(events.some((message) => message.includes(field)), {
        what: 'an event of reason FailedValidation names the pod and the field',
        expected: `a FailedValidation event for ${podNamed(subject, pod.name)} including ${field}`,
        got: events,
      });
      await pause(ctx, 2 * subject.syncMs);
      const calls = podCalls(subject, refused.metadata.uid);
      const sandboxes = sandboxesNamed(subject, podNamed(subject, pod.name));
      ctx.check(calls.length === 0 && sandboxes === 0, {
        what: 'no CRI call was made for the refused pod',
        expected: 'no RunPodSandbox, no container call',
        got: { callsForItsUid: callsView(calls), runPodSandboxNamingIt: sandboxes },
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-MANIFEST-008'],
    title: 'A refused or unparsable manifest added next to a running pod leaves that pod as it was: same containers, no restart',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const running = testPod(ctx, 'undisturbed', { containers: [sleeperContainer(subject, 'one'), sleeperContainer(subject, 'two')] });
      await withManifest(ctx, running);
      const before = await awaitPod(ctx, running, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      const refused = testPod(ctx, 'refused-neighbour', { containers: [sleeperContainer(subject, 'dup'), sleeperContainer(subject, 'dup')] });
      await withManifest(ctx, refused);
      await withRawManifest(ctx, `${ctx.uniqueName('garbage')}.yaml`, 'apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n');
      await awaitRefused(ctx, refused, ['KUBELET-MANIFEST-008']);
      await pause(ctx, 3 * subject.syncMs);
      const after = await subject.pod(running.name);
      const calls = podCalls(subject, before.metadata.uid);
      const disturbing = calls.filter((call) => /^(StopContainer|RemoveContainer|StopPodSandbox|RemovePodSandbox)$/.test(call.method));
      ctx.check(JSON.stringify(containerIds(after)) === JSON.stringify(containerIds(before)), {
        what: 'the running pod keeps the same container IDs',
        expected: containerIds(before),
        got: containerIds(after),
      });
      ctx.check(
        (after?.status?.containerStatuses ?? []).every((status) => status.restartCount === 0 && status.state.running !== undefined) &&
          disturbing.length === 0 &&
          callsOf(calls, 'CreateContainer').length === 2,
        {
          what: 'none of its containers was stopped, removed or restarted',
          expected: 'every container running, restartCount 0, two CreateContainer and no StopContainer/StopPodSandbox for the pod',
          got: { status: podView(after), calls: callsView(lifecycleCalls(calls)) },
        },
      );
    },
  });

  suite.declare({
    ids: ['KUBELET-MANIFEST-009', 'KUBELET-PLUGIN-005'],
    title: 'Removing a manifest stops the pod (preStop first, then StopContainer for each container, then StopPodSandbox, then RemovePodSandbox) and it leaves /pods',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const marker = ctx.uniqueName('prestop');
      const pod = testPod(ctx, 'removed', {
        containers: [
          sleeperContainer(subject, 'hooked', { lifecycle: { preStop: { exec: { command: ['sh', '-c', `echo ${marker} > /tmp/prestop`] } } } }),
          sleeperContainer(subject, 'plain'),
        ],
      });
      await withManifest(ctx, pod);
      const seen = await awaitPod(ctx, pod, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      await subject.removeManifest(pod.fileName);
      const until = Date.now() + budgetMs(subject, (pod.manifest.spec.terminationGracePeriodSeconds ?? 30) + 5);
      let stillThere = true;
      while (Date.now() < until) {
        stillThere = (await subject.pod(pod.name)) !== undefined;
        if (!stillThere) break;
        await pause(ctx, 200);
      }
      ctx.check(!stillThere, { ids: ['KUBELET-MANIFEST-009'], what: 'the pod left /pods after its manifest was removed', expected: 'not in /pods', got: stillThere ? 'still listed' : 'gone' });
      // The sandbox removal may come a sync after the pod left /pods.
      const removedBy = Date.now() + budgetMs(subject, 2);
      while (callsOf(podCalls(subject, seen.metadata.uid), 'RemovePodSandbox').length === 0 && Date.now() < removedBy) await pause(ctx, 200);
      const calls = podCalls(subject, seen.metadata.uid);
      const preStop = callsOf(calls, 'ExecSync', 'hooked').find((call) => execCommand(call).join(' ').includes(marker));
      const stops = callsOf(calls, 'StopContainer');
      const hookedStop = stops.find((call) => call.container === 'hooked');
      ctx.check(preStop !== undefined && hookedStop !== undefined && preStop.call.seq <= hookedStop.call.seq, {
        ids: ['KUBELET-MANIFEST-009'],
        what: 'the preStop hook ran (ExecSync in the container) before its StopContainer',
        expected: 'ExecSync with the preStop command, then StopContainer(hooked)',
        got: callsView(calls.filter((call) => call.method === 'ExecSync' || call.method === 'StopContainer')),
      });
      const stoppedNames = new Set(stops.filter((call) => !call.failed).map((call) => call.container));
      const stopSandbox = callsOf(calls, 'StopPodSandbox').find((call) => !call.failed);
      const removeSandbox = callsOf(calls, 'RemovePodSandbox').find((call) => !call.failed);
      const lastStopEnd = Math.max(...stops.map((call) => call.endedAt));
      ctx.check(stoppedNames.has('hooked') && stoppedNames.has('plain'), {
        ids: ['KUBELET-PLUGIN-005', 'KUBELET-MANIFEST-009'],
        what: 'each container of the pod got a StopContainer',
        expected: ['hooked', 'plain'],
        got: callsView(lifecycleCalls(calls)),
      });
      ctx.check(stopSandbox !== undefined && stops.length > 0 && stopSandbox.startedAt >= lastStopEnd, {
        ids: ['KUBELET-PLUGIN-005'],
        what: 'StopPodSandbox came after every StopContainer had returned',
        expected: 'StopContainer… then StopPodSandbox',
        got: callsView(lifecycleCalls(calls)),
      });
      ctx.check(stopSandbox !== undefined && removeSandbox !== undefined && removeSandbox.startedAt >= stopSandbox.endedAt, {
        ids: ['KUBELET-PLUGIN-005', 'KUBELET-MANIFEST-009'],
        what: 'RemovePodSandbox came after StopPodSandbox had returned',
        expected: 'StopPodSandbox then RemovePodSandbox',
        got: callsView(lifecycleCalls(calls)),
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-MANIFEST-010'],
    title: "The spec in /pods carries the API server's defaults: restart policy, grace period, DNS policy, pull policy by tag, termination message path and probe defaults",
    timeoutMs: 45_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const tagged = subject.images.busybox;
      const untagged = tagged.replace(/:[^:/]+$/, '');
      const pod = testPod(ctx, 'defaults', {
        containers: [
          { name: 'tagged', image: tagged, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'], livenessProbe: { httpGet: { port: 8080 } } },
          { name: 'untagged', image: untagged, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] },
          { name: 'latest', image: `${untagged}:latest`, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'], readinessProbe: { exec: { command: ['true'] } } },
        ],
      });
      // The grace period and restart policy are left for the kubelet to default (its containers exit on SIGTERM at once).
      const { terminationGracePeriodSeconds: _grace, ...undefaulted } = pod.manifest.spec;
      await withManifest(ctx, { ...pod, manifest: { ...pod.manifest, spec: undefaulted } });
      const seen = await awaitPod(ctx, pod, 'the pod is in /pods', () => true, { timeoutMs: budgetMs(subject, 5) });
      const spec = seen.spec;
      const byName = (name: string): Container | undefined => spec.containers.find((container) => container.name === name);
      const expectations: [string, unknown, unknown][] = [
        ['spec.restartPolicy', 'Always', spec.restartPolicy],
        ['spec.terminationGracePeriodSeconds', 30, spec.terminationGracePeriodSeconds],
        ['spec.dnsPolicy', 'ClusterFirst', spec.dnsPolicy],
        ['imagePullPolicy of an image tagged :1', 'IfNotPresent', byName('tagged')?.imagePullPolicy],
        ['imagePullPolicy of an image without tag', 'Always', byName('untagged')?.imagePullPolicy],
        ['imagePullPolicy of an image tagged :latest', 'Always', byName('latest')?.imagePullPolicy],
        ['terminationMessagePath', '/dev/termination-log', byName('tagged')?.terminationMessagePath],
      ];
      for (const [what, expected, got] of expectations) ctx.check(got === expected, { what: `${what} defaults to ${JSON.stringify(expected)}`, expected, got: got ?? null });
      const probeDefaults = { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
      for (const [name, probe] of [
        ['tagged livenessProbe', byName('tagged')?.livenessProbe],
        ['latest readinessProbe', byName('latest')?.readinessProbe],
      ] as const) {
        const got = Object.fromEntries(Object.keys(probeDefaults).map((key) => [key, (probe as Record<string, unknown> | undefined)?.[key] ?? null]));
        ctx.check(JSON.stringify(got) === JSON.stringify(probeDefaults), { what: `the ${name} carries the probe defaults`, expected: probeDefaults, got });
      }
      const httpGet = byName('tagged')?.livenessProbe?.httpGet;
      ctx.check(httpGet?.path === '/' && httpGet.scheme === 'HTTP', {
        what: 'an httpGet probe defaults to path / and scheme HTTP',
        expected: { path: '/', scheme: 'HTTP' },
        got: { path: httpGet?.path ?? null, scheme: httpGet?.scheme ?? null },
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-MANIFEST-011'],
    title: 'Files that are not valid YAML, hold no Pod or lack metadata.name each get a FailedValidation event naming the file, and the valid pod next to them runs',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const bad = {
        [`${ctx.uniqueName('bad-yaml')}.yaml`]: 'kind: Pod\nmetadata:\n  name: [oops\n  - :\n',
        [`${ctx.uniqueName('not-a-pod')}.yaml`]: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: not-a-pod\nspec:\n  ports: []\n',
        [`${ctx.uniqueName('no-name')}.json`]: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { containers: [{ name: 'app', image: subject.images.busybox }] } }),
      };
      for (const [fileName, text] of Object.entries(bad)) await withRawManifest(ctx, fileName, text);
      const good = testPod(ctx, 'good-neighbour', { containers: [sleeperContainer(subject, 'app')] });
      await withManifest(ctx, good);
      const running = await awaitPod(ctx, good, 'the valid pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      ctx.check(true, { what: 'the valid manifest next to the bad files runs', expected: 'Running', got: podView(running) });
      let messages: string[] = [];
      const until = Date.now() + budgetMs(subject, 3);
      for (;;) {
        messages = (await subject.events()).filter((event) => event.reason === 'FailedValidation').map((event) => event.message);
        if (Object.keys(bad).every((file) => messages.some((message) => message.includes(file))) || Date.now() > until) break;
        await pause(ctx, 300);
      }
      for (const file of Object.keys(bad)) {
        ctx.check(messages.some((message) => message.includes(file)), {
          what: `a FailedValidation event names ${file}`,
          expected: `a FailedValidation message including ${file}`,
          got: messages.filter((message) => Object.keys(bad).some((name) => message.includes(name.split('.')[0] as string))),
        });
      }
    },
  });
}
