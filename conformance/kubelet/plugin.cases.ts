/**
 * What the kubelet owes its plugins (KUBELET-PLUGIN): image pulls as the
 * pull policy says, CSI stage/publish around the containers that mount a
 * volume, what it keeps in CRI labels and annotations, adopting running pods
 * after a SIGKILL, log paths, and its read-only port. Judged from the spy
 * proxies' call logs (one sequence across CRI and CSI) and /pods, /events,
 * as kubernetes/kubernetes v1.36.3 pkg/kubelet/kuberuntime and
 * pkg/volume/csi drive their plugins.
 */
import type { CaseContext, Suite } from '../framework/index.js';
import type { Pod } from '../../kubelet/api/pod-types.js';
import type { KubeletSubject, RecordedCall } from './kubelet-subject.js';
import {
  absentImage,
  awaitPod,
  budgetMs,
  callsOf,
  callsView,
  isRunning,
  lifecycleCalls,
  pause,
  podCalls,
  podNamed,
  podView,
  removePod,
  restartCount,
  shellContainer,
  sleeperContainer,
  testPod,
  waitingReason,
  withManifest,
} from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

/** Whether every app container of the pod runs. */
function allRunning(pod: Pod): boolean {
  return pod.spec.containers.every((container) => isRunning(pod, container.name));
}

/** A nested field of a recorded message. */
function field(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The image a PullImage or ImageStatus request names. */
function imageOf(call: RecordedCall): string | undefined {
  const image = field(call.request, 'image', 'image');
  return typeof image === 'string' ? image : undefined;
}

/** A short view of recorded calls for evidence. */
function recordedView(calls: readonly RecordedCall[], origin = calls[0]?.startedAt ?? 0): string[] {
  return calls.map((call) => `#${call.seq} ${call.method}${imageOf(call) === undefined ? '' : `(${imageOf(call) ?? ''})`} @${call.startedAt - origin}ms${call.code === undefined ? '' : ` ${call.code}`}`);
}

/** CRI image calls (PullImage, ImageStatus) for `image` made at or after `since`. */
function imageCalls(subject: KubeletSubject, image: string, since: number): RecordedCall[] {
  return subject.criCalls().filter((call) => (call.method === 'PullImage' || call.method === 'ImageStatus') && imageOf(call) === image && call.startedAt >= since);
}

/** The CSI node capabilities NodeGetCapabilities answered the kubelet (rpc types by number), or undefined when it never asked. */
function stageAdvertised(subject: KubeletSubject): boolean | undefined {
  const answers = subject.csiCalls().filter((call) => call.method === 'NodeGetCapabilities' && call.code === undefined);
  const last = answers[answers.length - 1];
  if (last === undefined) return undefined;
  const capabilities = field(last.response, 'capabilities');
  if (!Array.isArray(capabilities)) return false;
  // STAGE_UNSTAGE_VOLUME is 1 in csi.proto's NodeServiceCapability.RPC.Type.
  return capabilities.some((capability) => field(capability, 'type', 'value', 'type') === 1 || field(capability, 'rpc', 'type') === 1);
}

/** Declares the plugin cases. */
export function declarePluginCases(suite: Suite<KubeletSubject>): void {
  suite.declare({
    ids: ['KUBELET-PLUGIN-001'],
    title: 'Images are pulled as imagePullPolicy says: IfNotPresent only when ImageStatus finds none, Always before every CreateContainer, Never not at all (ErrImageNeverPull)',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const present = subject.images.busybox;
      const latest = `${present.replace(/:[^:/]+$/, '')}:latest`;

      // IfNotPresent: the ImageStatus answer decides.
      let since = Date.now();
      const ifNotPresent = testPod(ctx, 'pull-ifnotpresent', { containers: [sleeperContainer(subject, 'app', { image: present, imagePullPolicy: 'IfNotPresent' })] });
      await withManifest(ctx, ifNotPresent);
      const running = await awaitPod(ctx, ifNotPresent, 'the IfNotPresent pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      const create = callsOf(podCalls(subject, running.metadata.uid), 'CreateContainer', 'app')[0];
      const before = imageCalls(subject, present, since).filter((call) => create !== undefined && call.seq < create.call.seq);
      const status = before.filter((call) => call.method === 'ImageStatus').pop();
      const found = status !== undefined && field(status.response, 'image') !== undefined;
      const pulled = before.some((call) => call.method === 'PullImage' && (status === undefined || call.seq > status.seq));
      ctx.check(status !== undefined && pulled === !found, {
        what: 'IfNotPresent: ImageStatus asked before CreateContainer, and PullImage called exactly when it found no image',
        expected: found ? 'ImageStatus found the image: no PullImage' : 'ImageStatus found none: PullImage',
        got: recordedView(before),
      });
      await removePod(ctx, ifNotPresent);

      // Always: a pull before every CreateContainer, restarts included.
      since = Date.now();
      const always = testPod(ctx, 'pull-always', { restartPolicy: 'Always', containers: [shellContainer(subject, 'app', 'sleep 1; exit 0', { image: latest, imagePullPolicy: 'Always' })] });
      await withManifest(ctx, always);
      const restarted = await awaitPod(ctx, always, 'the Always pod restarted its container once', (pod) => restartCount(pod, 'app') >= 1, {
        timeoutMs: budgetMs(subject, 1 + Math.min(10, subject.maxRestartPeriodSeconds) + 10),
      });
      const creates = callsOf(podCalls(subject, restarted.metadata.uid), 'CreateContainer', 'app');
      const pulls = imageCalls(subject, latest, since).filter((call) => call.method === 'PullImage' && call.code === undefined);
      const unpulled = creates.filter((createCall, index) => {
        const previous = index === 0 ? 0 : (creates[index - 1]?.call.seq ?? 0);
        return !pulls.some((pull) => pull.seq > previous && pull.seq < createCall.call.seq && pull.endedAt <= createCall.startedAt);
      });
      ctx.check(creates.length >= 2 && unpulled.length === 0, {
        what: 'Always: a PullImage returned before each CreateContainer (first start and restart)',
        expected: 'PullImage, CreateContainer, …, PullImage, CreateContainer',
        got: recordedView(subject.criCalls().filter((call) => call.startedAt >= since && (imageOf(call) === latest || (call.method === 'CreateContainer' && creates.some((c) => c.call.seq === call.seq))))),
      });
      await removePod(ctx, always);

      // Never: no pull at all, and the container waits with ErrImageNeverPull.
      since = Date.now();
      const missing = absentImage(ctx);
      const never = testPod(ctx, 'pull-never', { containers: [sleeperContainer(subject, 'app', { image: missing, imagePullPolicy: 'Never' })] });
      await withManifest(ctx, never);
      const waiting = await awaitPod(ctx, never, 'the container waits with ErrImageNeverPull', (pod) => waitingReason(pod, 'app') === 'ErrImageNeverPull', { timeoutMs: budgetMs(subject, 10) });
      ctx.check(waitingReason(waiting, 'app') === 'ErrImageNeverPull', { what: 'Never with a missing image: waiting reason ErrImageNeverPull', expected: 'ErrImageNeverPull', got: podView(waiting) });
      await pause(ctx, 2 * subject.syncMs);
      const neverPulls = imageCalls(subject, missing, since).filter((call) => call.method === 'PullImage');
      ctx.check(neverPulls.length === 0, { what: 'Never: no PullImage for the image', expected: 'no PullImage', got: recordedView(neverPulls) });
    },
  });

  suite.declare({
    ids: ['KUBELET-PLUGIN-003', 'KUBELET-PLUGIN-004'],
    title: 'A CSI volume is staged (when the driver stages), then published, before the container that mounts it is created; unpublished only after that container stopped, then unstaged',
    needs: { capabilities: ['csi'] },
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const driver = subject.csiDriver;
      if (driver === undefined) ctx.notApplicable('no CSI driver is wired to the kubelet');
      const since = Date.now();
      const marker = ctx.uniqueName('csi');
      const pod = testPod(ctx, 'csi-volume', {
        volumes: [{ name: 'data', csi: { driver } }],
        containers: [
          shellContainer(subject, 'app', `echo ${marker} > /data/note; trap "exit 0" TERM; while true; do sleep 1; done`, { volumeMounts: [{ name: 'data', mountPath: '/data' }] }),
        ],
      });
      await withManifest(ctx, pod);
      const seen = await awaitPod(ctx, pod, 'the pod with a CSI volume runs', allRunning, { timeoutMs: budgetMs(subject, 25) });
      const read = await subject.exec(pod.name, 'app', ['cat', '/data/note']);
      ctx.check(read.stdout.trim() === marker, { ids: ['KUBELET-PLUGIN-003'], what: 'the container writes and reads the CSI volume', expected: marker, got: read });
      await removePod(ctx, pod);
      // Unpublish and unstage may come a sync after the pod left /pods.
      const until = Date.now() + budgetMs(subject, 3);
      const csiSince = (): RecordedCall[] => subject.csiCalls().filter((call) => call.startedAt >= since);
      while (!csiSince().some((call) => call.method === 'NodeUnpublishVolume') && Date.now() < until) await pause(ctx, 200);
      if (stageAdvertised(subject) === true) {
        while (!csiSince().some((call) => call.method === 'NodeUnstageVolume') && Date.now() < until) await pause(ctx, 200);
      }
      const csi = csiSince();
      const cri = lifecycleCalls(podCalls(subject, seen.metadata.uid));
      const both = [...csi.filter((call) => /^Node(Stage|Publish|Unpublish|Unstage)Volume$/.test(call.method)), ...cri.map((call) => call.call)].sort((a, b) => a.seq - b.seq);
      const view = recordedView(both, since);
      const ok = (method: string): RecordedCall | undefined => csi.find((call) => call.method === method && call.code === undefined);
      const stage = ok('NodeStageVolume');
      const publish = ok('NodePublishVolume');
      const unpublish = ok('NodeUnpublishVolume');
      const unstage = ok('NodeUnstageVolume');
      const create = callsOf(podCalls(subject, seen.metadata.uid), 'CreateContainer', 'app')[0];
      const stops = callsOf(podCalls(subject, seen.metadata.uid), 'StopContainer', 'app').filter((call) => !call.failed);
      const stages = stageAdvertised(subject);
      if (stages === undefined) ctx.note('the kubelet never asked NodeGetCapabilities; staging is judged by what the dir-volume driver advertises (STAGE_UNSTAGE_VOLUME)');
      if (stages !== false) {
        ctx.check(stage !== undefined && publish !== undefined && stage.endedAt <= publish.startedAt && stage.seq < publish.seq, {
          ids: ['KUBELET-PLUGIN-003'],
          what: 'NodeStageVolume returned before NodePublishVolume (the driver advertises STAGE_UNSTAGE_VOLUME)',
          expected: 'NodeStageVolume, then NodePublishVolume',
          got: view,
        });
      }
      ctx.check(publish !== undefined && create !== undefined && publish.endedAt <= create.startedAt && publish.seq < create.call.seq, {
        ids: ['KUBELET-PLUGIN-003'],
        what: 'NodePublishVolume returned before CreateContainer of the container mounting the volume',
        expected: 'NodePublishVolume, then CreateContainer(app)',
        got: view,
      });
      const lastStop = stops[stops.length - 1];
      ctx.check(unpublish !== undefined && lastStop !== undefined && unpublish.startedAt >= lastStop.endedAt && unpublish.seq > lastStop.call.seq, {
        ids: ['KUBELET-PLUGIN-004'],
        what: 'NodeUnpublishVolume came only after the container mounting the volume had stopped',
        expected: 'StopContainer(app) returned, then NodeUnpublishVolume',
        got: view,
      });
      if (stages !== false) {
        ctx.check(unstage !== undefined && unpublish !== undefined && unstage.startedAt >= unpublish.endedAt, {
          ids: ['KUBELET-PLUGIN-004'],
          what: 'NodeUnstageVolume came after NodeUnpublishVolume had returned',
          expected: 'NodeUnpublishVolume, then NodeUnstageVolume',
          got: view,
        });
      }
    },
  });

  suite.declare({
    ids: ['KUBELET-PLUGIN-006', 'KUBELET-PLUGIN-008'],
    title: 'Sandboxes and containers carry the pod and container labels and annotations the kubelet recovers from, and logs go to a per-pod directory as <name>/<restartCount>.log',
    timeoutMs: 45_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'labels', { containers: [sleeperContainer(subject, 'app')] });
      await withManifest(ctx, pod);
      const seen = await awaitPod(ctx, pod, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      const calls = podCalls(subject, seen.metadata.uid);
      const run = callsOf(calls, 'RunPodSandbox')[0];
      const create = callsOf(calls, 'CreateContainer', 'app')[0];
      ctx.require(run !== undefined && create !== undefined, { what: 'the pod\'s RunPodSandbox and CreateContainer are in the call log', expected: 'both', got: callsView(lifecycleCalls(calls)) });
      const podLabels = { 'io.kubernetes.pod.name': podNamed(subject, pod.name), 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': seen.metadata.uid ?? '' };
      const sandboxLabels = field(run.call.request, 'config', 'labels') as Record<string, string> | undefined;
      const containerLabels = field(create.call.request, 'config', 'labels') as Record<string, string> | undefined;
      const containerAnnotations = field(create.call.request, 'config', 'annotations') as Record<string, string> | undefined;
      const subset = (labels: Record<string, string> | undefined, wanted: Record<string, string>): boolean => Object.entries(wanted).every(([key, value]) => labels?.[key] === value);
      ctx.check(subset(sandboxLabels, podLabels), { ids: ['KUBELET-PLUGIN-006'], what: 'the sandbox carries the pod name, namespace and UID labels', expected: podLabels, got: sandboxLabels ?? null });
      const wantedContainerLabels = { ...podLabels, 'io.kubernetes.container.name': 'app' };
      ctx.check(subset(containerLabels, wantedContainerLabels), {
        ids: ['KUBELET-PLUGIN-006'],
        what: 'the container carries the pod labels and the container name label',
        expected: wantedContainerLabels,
        got: containerLabels ?? null,
      });
      const annotationKeys = ['io.kubernetes.container.restartCount', 'io.kubernetes.container.hash', 'io.kubernetes.pod.terminationGracePeriod'];
      ctx.check(
        annotationKeys.every((key) => typeof containerAnnotations?.[key] === 'string' && containerAnnotations[key] !== '') &&
          containerAnnotations?.['io.kubernetes.container.restartCount'] === '0' &&
          containerAnnotations['io.kubernetes.pod.terminationGracePeriod'] === String(pod.manifest.spec.terminationGracePeriodSeconds),
        {
          ids: ['KUBELET-PLUGIN-006'],
          what: 'the container carries the restartCount (0), hash and terminationGracePeriod annotations',
          expected: { 'io.kubernetes.container.restartCount': '0', 'io.kubernetes.container.hash': 'non-empty', 'io.kubernetes.pod.terminationGracePeriod': String(pod.manifest.spec.terminationGracePeriodSeconds) },
          got: containerAnnotations ?? null,
        },
      );
      const logDirectory = field(run.call.request, 'config', 'logDirectory');
      ctx.check(typeof logDirectory === 'string' && logDirectory.startsWith('/') && logDirectory.includes(seen.metadata.uid ?? '\0'), {
        ids: ['KUBELET-PLUGIN-008'],
        what: "the sandbox's log_directory is an absolute directory of the pod's own (naming its UID)",
        expected: `an absolute path including ${seen.metadata.uid ?? '?'}`,
        got: logDirectory ?? null,
      });
      const attempt = Number(field(create.call.request, 'config', 'metadata', 'attempt') ?? 0);
      const logPath = field(create.call.request, 'config', 'logPath');
      ctx.check(logPath === `app/${attempt}.log`, { ids: ['KUBELET-PLUGIN-008'], what: "the container's log_path is <name>/<restartCount>.log", expected: `app/${attempt}.log`, got: logPath ?? null });
    },
  });

  suite.declare({
    ids: ['KUBELET-PLUGIN-007', 'KUBELET-INIT-006', 'KUBELET-PHASE-007', 'KUBELET-MANIFEST-002'],
    title: 'After SIGKILL and a restart the kubelet adopts the running pod: same sandbox and containers, no init container re-run, restartCount carried on, same UID',
    needs: { capabilities: ['restart'] },
    timeoutMs: 120_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const work = { name: 'work', mountPath: '/work' };
      const pod = testPod(ctx, 'adopted', {
        restartPolicy: 'Always',
        volumes: [{ name: 'work', emptyDir: {} }],
        initContainers: [shellContainer(subject, 'setup', 'echo done > /work/setup', { volumeMounts: [work] })],
        // Fails once, then runs until stopped: a restart count of 1 to carry across the kubelet restart.
        containers: [shellContainer(subject, 'app', 'if [ -f /work/ran ]; then trap "exit 0" TERM; while true; do sleep 1; done; else touch /work/ran; exit 1; fi', { volumeMounts: [work] })],
      });
      await withManifest(ctx, pod);
      const before = await awaitPod(ctx, pod, 'the app container runs after one restart', (found) => restartCount(found, 'app') >= 1 && isRunning(found, 'app'), {
        timeoutMs: budgetMs(subject, Math.min(10, subject.maxRestartPeriodSeconds) + 20),
      }).catch(async (error: unknown) => {
        const seen = await subject.pod(pod.name).catch(() => undefined);
        ctx.note(`the pod's lifecycle calls so far: ${callsView(lifecycleCalls(podCalls(subject, seen?.metadata.uid))).join(', ')}`);
        throw error;
      });
      const beforeCalls = podCalls(subject, before.metadata.uid);
      const killedAt = Date.now();
      await subject.restartKubelet('SIGKILL');
      await pause(ctx, 4 * subject.syncMs);
      const after = await awaitPod(ctx, pod, 'the pod is listed again with the app running', (found) => isRunning(found, 'app'), { timeoutMs: budgetMs(subject, 10) });
      const afterCalls = podCalls(subject, before.metadata.uid).filter((call) => call.startedAt >= killedAt);
      const disruptive = afterCalls.filter((call) => /^(RunPodSandbox|StopPodSandbox|RemovePodSandbox|CreateContainer|StartContainer|StopContainer|RemoveContainer)$/.test(call.method));
      const appBefore = before.status?.containerStatuses?.find((status) => status.name === 'app');
      const appAfter = after.status?.containerStatuses?.find((status) => status.name === 'app');
      ctx.check(after.metadata.uid === before.metadata.uid, { ids: ['KUBELET-MANIFEST-002', 'KUBELET-PLUGIN-007'], what: 'the same manifest keeps its UID across the kubelet restart', expected: before.metadata.uid ?? null, got: after.metadata.uid ?? null });
      ctx.check(appAfter?.containerID === appBefore?.containerID, {
        ids: ['KUBELET-PLUGIN-007'],
        what: 'the app container is the same CRI container',
        expected: appBefore?.containerID ?? null,
        got: appAfter?.containerID ?? null,
      });
      ctx.check(disruptive.filter((call) => call.method !== 'CreateContainer' || call.container !== 'setup').length === 0, {
        ids: ['KUBELET-PLUGIN-007'],
        what: 'no sandbox or container of the pod was stopped, removed or created after the restart',
        expected: 'no lifecycle call for the pod',
        got: callsView(disruptive, killedAt),
      });
      ctx.check(callsOf(afterCalls, 'CreateContainer', 'setup').length === 0 && callsOf(beforeCalls, 'CreateContainer', 'setup').length === 1, {
        ids: ['KUBELET-INIT-006'],
        what: 'the completed init container was not created again',
        expected: 'one CreateContainer(setup) before the restart, none after',
        got: { before: callsView(callsOf(beforeCalls, 'CreateContainer', 'setup')), after: callsView(callsOf(afterCalls, 'CreateContainer', 'setup'), killedAt) },
      });
      ctx.check((appAfter?.restartCount ?? -1) >= (appBefore?.restartCount ?? 0) && (appBefore?.restartCount ?? 0) >= 1, {
        ids: ['KUBELET-PHASE-007', 'KUBELET-PLUGIN-007'],
        what: "the app container's restartCount carries on across the kubelet restart",
        expected: `>= ${appBefore?.restartCount ?? 1}`,
        got: appAfter?.restartCount ?? null,
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-PLUGIN-009'],
    title: '/healthz answers 200 ok, and /pods answers a v1 PodList holding every static pod (refused ones included) with metadata, spec and status',
    timeoutMs: 45_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const healthz = await subject.readOnlyGet('/healthz');
      ctx.check(healthz.status === 200 && healthz.body.trim() === 'ok', { what: 'GET /healthz answers 200 "ok"', expected: { status: 200, body: 'ok' }, got: healthz });
      const good = testPod(ctx, 'listed', { containers: [sleeperContainer(subject, 'app')] });
      const refused = testPod(ctx, 'listed-refused', { containers: [sleeperContainer(subject, 'app', { ports: [{ containerPort: -1 }] })] });
      await withManifest(ctx, good);
      await withManifest(ctx, refused);
      await awaitPod(ctx, good, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      await awaitPod(ctx, refused, 'the refused pod is listed', (found) => found.status?.phase === 'Failed', { timeoutMs: budgetMs(subject, 5) });
      const raw = await subject.readOnlyGet('/pods');
      let list: { apiVersion?: unknown; kind?: unknown; items?: Pod[] } = {};
      try {
        list = JSON.parse(raw.body) as typeof list;
      } catch {
        // judged below
      }
      ctx.check(raw.status === 200 && list.apiVersion === 'v1' && list.kind === 'PodList' && Array.isArray(list.items), {
        what: 'GET /pods answers 200 with a JSON PodList (apiVersion v1, kind PodList, items)',
        expected: { status: 200, apiVersion: 'v1', kind: 'PodList' },
        got: { status: raw.status, apiVersion: list.apiVersion ?? null, kind: list.kind ?? null, body: raw.body.slice(0, 200) },
      });
      for (const pod of [good, refused]) {
        const item = list.items?.find((found) => found.metadata?.name === podNamed(subject, pod.name));
        ctx.check(item !== undefined && typeof item.metadata.uid === 'string' && Array.isArray(item.spec?.containers) && typeof item.status?.phase === 'string', {
          what: `${podNamed(subject, pod.name)} is listed with metadata (uid), spec and status`,
          expected: 'metadata.uid, spec.containers, status.phase',
          got: item === undefined ? 'not listed' : { metadata: item.metadata, containers: item.spec?.containers?.length, phase: item.status?.phase },
        });
      }
    },
  });

  suite.declare({
    ids: ['KUBELET-PLUGIN-010'],
    title: "/events lists Pulling, Pulled, Created, Started and Killing for a pod's container, naming the pod and spec.containers{name}",
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const latest = `${subject.images.busybox.replace(/:[^:/]+$/, '')}:latest`;
      const pod = testPod(ctx, 'events', { containers: [sleeperContainer(subject, 'app', { image: latest, imagePullPolicy: 'Always' })] });
      await withManifest(ctx, pod);
      const seen = await awaitPod(ctx, pod, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      await removePod(ctx, pod);
      const wanted = ['Pulling', 'Pulled', 'Created', 'Started', 'Killing'];
      const until = Date.now() + budgetMs(subject, 2);
      let ours: Awaited<ReturnType<KubeletSubject['events']>> = [];
      for (;;) {
        ours = (await subject.events()).filter((event) => event.involvedObject.uid === seen.metadata.uid || event.involvedObject.name === podNamed(subject, pod.name));
        if (wanted.every((reason) => ours.some((event) => event.reason === reason)) || Date.now() > until) break;
        await pause(ctx, 300);
      }
      for (const reason of wanted) {
        const event = ours.find((found) => found.reason === reason);
        const involved = event?.involvedObject;
        ctx.check(
          involved !== undefined &&
            involved.name === podNamed(subject, pod.name) &&
            involved.namespace === 'default' &&
            involved.uid === seen.metadata.uid &&
            involved.fieldPath === 'spec.containers{app}',
          {
            what: `a ${reason} event names the pod (name, namespace, uid) and spec.containers{app}`,
            expected: { reason, involvedObject: { name: podNamed(subject, pod.name), namespace: 'default', uid: seen.metadata.uid, fieldPath: 'spec.containers{app}' } },
            got: event ?? { reasonsSeen: ours.map((found) => found.reason) },
          },
        );
      }
    },
  });
}
