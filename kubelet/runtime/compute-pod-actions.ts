/**
 * The pure decision of one pod sync: desired pod + what CRI holds + probe
 * verdicts + now → what to kill, create and start. Modelled on
 * kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_manager.go
 * (computePodActions, podSandboxChanged, computeInitContainerActions) and
 * pkg/kubelet/container/helpers.go (ShouldContainerBeRestarted); our own code.
 *
 * Everything is read from `observed`, so the same input gives the same
 * actions after a kubelet restart (level-triggered).
 */
import type { Container, Pod, RestartPolicy } from '../api/pod-types.js';
import type {
  ComputeActionsInput,
  ContainerToKill,
  ContainerToStart,
  ObservedContainer,
  ObservedSandbox,
  PodActions,
} from '../kubelet-parts.js';
import { restartGate } from './container-backoff.js';

type Kind = ContainerToStart['kind'];
type BackingOff = PodActions['backingOff'][number];

/** Reason and message of a pod whose init container failed under restartPolicy Never. */
export const initContainerFailedReason = 'InitContainerFailed';

/** An init container with restartPolicy Always. @see KUBELET-INIT-007 */
export function isSidecar(container: Container): boolean {
  return container.restartPolicy === 'Always';
}

/** Whether an app container that exited with `exitCode` is restarted under `policy` (upstream ShouldContainerBeRestarted). */
export function shouldRestart(policy: RestartPolicy, exitCode: number): boolean {
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return exitCode !== 0;
  return false;
}

/** The newest of several containers: highest attempt, then latest creation. */
function newest(containers: readonly ObservedContainer[]): ObservedContainer | undefined {
  let best: ObservedContainer | undefined;
  for (const container of containers) {
    if (best === undefined || container.attempt > best.attempt || (container.attempt === best.attempt && container.createdAt > best.createdAt)) best = container;
  }
  return best;
}

function newestSandbox(sandboxes: readonly ObservedSandbox[]): ObservedSandbox | undefined {
  let best: ObservedSandbox | undefined;
  for (const sandbox of sandboxes) {
    if (best === undefined || sandbox.attempt > best.attempt || (sandbox.attempt === best.attempt && sandbox.createdAt > best.createdAt)) best = sandbox;
  }
  return best;
}

function groupByName(containers: readonly ObservedContainer[]): Map<string, ObservedContainer[]> {
  const byName = new Map<string, ObservedContainer[]>();
  for (const container of containers) {
    const list = byName.get(container.name);
    if (list === undefined) byName.set(container.name, [container]);
    else list.push(container);
  }
  return byName;
}

/**
 * Exited containers no status needs: per name, every exited container but
 * the newest exited one (kept for lastState and for init completion).
 * @see KUBELET-RESTART-006
 */
export function removableContainers(containers: readonly ObservedContainer[]): string[] {
  const removable: string[] = [];
  for (const list of groupByName(containers).values()) {
    const exited = list.filter((container) => container.state === 'exited');
    const keep = newest(exited);
    for (const container of exited) if (container !== keep) removable.push(container.id);
  }
  return removable;
}

function isActive(container: ObservedContainer): boolean {
  return container.state === 'running' || container.state === 'created' || container.state === 'unknown';
}

/** The decision of one sync. @see KUBELET-INIT-001 @see KUBELET-RESTART-001 @see KUBELET-SANDBOX-007 */
export function computePodActions(input: ComputeActionsInput): PodActions {
  const containers = input.observed?.containers ?? [];
  const sandboxes = input.observed?.sandboxes ?? [];
  const toRemove = removableContainers(containers);
  const active = containers.filter(isActive);
  const anyReadySandbox = sandboxes.some((sandbox) => sandbox.ready);
  const stopEverything = (reason: string, message: (name: string) => string, extra: Partial<PodActions> = {}): PodActions => ({
    killPod: anyReadySandbox || active.length > 0,
    createSandbox: false,
    sandboxAttempt: 0,
    containersToKill: active.map((container) => ({ containerId: container.id, name: container.name, reason, message: message(container.name) })),
    containersToStart: [],
    backingOff: [],
    containersToRemove: toRemove,
    ...extra,
  });

  const pod = input.pod;
  // @see KUBELET-MANIFEST-009: the manifest is gone, so is the pod.
  if (pod === undefined) {
    const actions = stopEverything('PodDeleted', (name) => `Stopping container ${name}`);
    return { ...actions, killPod: actions.killPod || sandboxes.length > 0 };
  }
  // A pod being deleted (evicted) is stopped, with its deletion grace period, and never started again.
  if (pod.metadata.deletionTimestamp !== undefined) return stopEverything('Killing', (name) => `Stopping container ${name}`);
  // @see KUBELET-HOOK-007
  if (input.deadlineExceeded) return stopEverything('DeadlineExceeded', () => 'Pod was active on the node longer than the specified deadline');

  const policy: RestartPolicy = pod.spec.restartPolicy ?? 'Always';
  const initContainers = pod.spec.initContainers ?? [];
  const appContainers = pod.spec.containers;
  const byName = groupByName(containers);
  const latestAll = (name: string): ObservedContainer | undefined => newest(byName.get(name) ?? []);
  const nextAttempt = (name: string): number => {
    const list = byName.get(name) ?? [];
    return list.length === 0 ? 0 : Math.max(...list.map((container) => container.attempt)) + 1;
  };

  // @see KUBELET-INIT-004: a failed init container under Never fails the pod, level-triggered.
  if (policy === 'Never') {
    for (const container of initContainers) {
      if (isSidecar(container)) continue;
      const latest = latestAll(container.name);
      if (latest?.state === 'exited' && latest.exitCode !== 0) {
        const podFailed = { reason: initContainerFailedReason, message: `init container ${container.name} failed with exit code ${latest.exitCode}` };
        return stopEverything('PodFailed', (name) => `Stopping container ${name}`, { podFailed });
      }
    }
  }
  // @see KUBELET-PHASE-005: Succeeded and Failed pods start nothing again; their sidecars are stopped.
  const terminal =
    policy !== 'Always' &&
    appContainers.every((container) => {
      const latest = latestAll(container.name);
      return latest !== undefined && latest.state === 'exited' && !shouldRestart(policy, latest.exitCode);
    });
  if (terminal) return stopEverything('PodCompleted', (name) => `Stopping container ${name}`);

  const current = newestSandbox(sandboxes);
  const readyCount = sandboxes.filter((sandbox) => sandbox.ready).length;
  const sandboxChanged = current === undefined || !current.ready || readyCount > 1;
  if (sandboxChanged) return recreateSandbox();
  return syncInSandbox(current);

  function recreateSandbox(): PodActions {
    const attempt = current === undefined ? 0 : current.attempt + 1;
    const kill: PodActions = {
      ...stopEverything('SandboxChanged', (name) => `Stopping container ${name}`),
      killPod: anyReadySandbox || active.length > 0 || sandboxes.length > 0,
    };
    // Upstream: under Never, a pod whose containers already ran gets no new sandbox.
    if (policy === 'Never' && attempt !== 0 && containers.length > 0) return kill;
    const starts: ContainerToStart[] = [];
    const firstInit = initContainers[0];
    if (firstInit !== undefined) {
      starts.push({ name: firstInit.name, kind: isSidecar(firstInit) ? 'sidecar' : 'init', attempt: nextAttempt(firstInit.name) });
    } else {
      for (const container of appContainers) {
        const latest = latestAll(container.name);
        // OnFailure: containers that succeeded are not run again (upstream computePodActions).
        if (latest?.state === 'exited' && !shouldRestart(policy, latest.exitCode)) continue;
        starts.push({ name: container.name, kind: 'app', attempt: nextAttempt(container.name) });
      }
      if (starts.length === 0) return kill;
    }
    return { ...kill, createSandbox: true, sandboxAttempt: attempt, containersToStart: starts };
  }

  function syncInSandbox(sandbox: ObservedSandbox): PodActions {
    const here = groupByName(containers.filter((container) => container.sandboxId === sandbox.id));
    const latestHere = (name: string): ObservedContainer | undefined => newest(here.get(name) ?? []);
    const kills: ContainerToKill[] = [];
    const starts: ContainerToStart[] = [];
    const backingOff: BackingOff[] = [];

    // Containers left running in an older sandbox do not belong to the pod any more.
    for (const container of active) {
      if (container.sandboxId !== sandbox.id) kills.push({ containerId: container.id, name: container.name, reason: 'SandboxChanged', message: `Stopping container ${container.name}` });
    }

    /** Restarts `previous` (exited, or killed now) once its back-off allows. */
    const restart = (container: Container, kind: Kind, previous: ObservedContainer, killedNow: boolean): void => {
      const base = killedNow ? { ...previous, finishedAt: input.now } : previous;
      const gate = restartGate(base, input.now, input.restartBackoff, input.maxRestartPeriodMs);
      if (gate.until <= input.now) {
        starts.push({ name: container.name, kind, attempt: nextAttempt(container.name) });
      } else {
        const podRef = `${pod!.metadata.name}_${pod!.metadata.namespace ?? 'default'}(${pod!.metadata.uid ?? ''})`;
        backingOff.push({ name: container.name, until: gate.until, message: `back-off ${formatSeconds(gate.delayMs)} restarting failed container=${container.name} pod=${podRef}` });
      }
    };

    /** Kills a running container whose liveness or startup probe failed; true when it did. @see KUBELET-PROBE-010 @see KUBELET-PROBE-011 */
    const killOnProbeFailure = (container: Container, latest: ObservedContainer): boolean => {
      const state = input.probes(latest.id);
      if (state.livenessFailed) {
        kills.push({ containerId: latest.id, name: container.name, reason: 'LivenessProbeFailed', message: `Container ${container.name} failed liveness probe, will be restarted` });
        return true;
      }
      if (state.startupFailed) {
        kills.push({ containerId: latest.id, name: container.name, reason: 'StartupProbeFailed', message: `Container ${container.name} failed startup probe, will be restarted` });
        return true;
      }
      return false;
    };

    // Init containers: one at a time, in order; sidecars start in order and stay up. @see KUBELET-INIT-001 @see KUBELET-INIT-007
    let blocked = false;
    for (const container of initContainers) {
      const latest = latestHere(container.name);
      if (isSidecar(container)) {
        if (latest === undefined) {
          starts.push({ name: container.name, kind: 'sidecar', attempt: nextAttempt(container.name) });
          blocked = true;
          break;
        }
        if (latest.state === 'exited') {
          // @see KUBELET-INIT-008: restarted whatever the pod's restartPolicy.
          restart(container, 'sidecar', latest, false);
          continue;
        }
        if (latest.state === 'unknown') {
          kills.push({ containerId: latest.id, name: container.name, reason: 'Unknown', message: `Stopping container ${container.name}` });
          restart(container, 'sidecar', latest, true);
          continue;
        }
        if (latest.state === 'running' && killOnProbeFailure(container, latest)) {
          restart(container, 'sidecar', latest, true);
          continue;
        }
        if (latest.state === 'created' || !input.probes(latest.id).started) {
          blocked = true;
          break;
        }
        continue;
      }
      if (latest === undefined) {
        starts.push({ name: container.name, kind: 'init', attempt: nextAttempt(container.name) });
        blocked = true;
        break;
      }
      if (latest.state === 'exited' && latest.exitCode === 0) continue;
      blocked = true;
      if (latest.state === 'exited') {
        // @see KUBELET-INIT-003 (Never was handled above)
        restart(container, 'init', latest, false);
      } else if (latest.state === 'unknown') {
        kills.push({ containerId: latest.id, name: container.name, reason: 'Unknown', message: `Stopping container ${container.name}` });
        restart(container, 'init', latest, true);
      }
      break;
    }

    // App containers only once every init container has completed. @see KUBELET-INIT-002
    if (!blocked) {
      for (const container of appContainers) {
        const latest = latestHere(container.name);
        if (latest === undefined) {
          const before = latestAll(container.name);
          if (before?.state === 'exited' && !shouldRestart(policy, before.exitCode)) continue;
          starts.push({ name: container.name, kind: 'app', attempt: nextAttempt(container.name) });
          continue;
        }
        if (latest.state === 'exited') {
          if (shouldRestart(policy, latest.exitCode)) restart(container, 'app', latest, false);
          continue;
        }
        if (latest.state === 'unknown') {
          kills.push({ containerId: latest.id, name: container.name, reason: 'Unknown', message: `Stopping container ${container.name}` });
          if (policy !== 'Never') restart(container, 'app', latest, true);
          continue;
        }
        // Upstream restarts a container killed for a probe unless the policy is Never.
        if (latest.state === 'running' && killOnProbeFailure(container, latest) && policy !== 'Never') restart(container, 'app', latest, true);
      }
    }

    return {
      killPod: false,
      createSandbox: false,
      sandboxId: sandbox.id,
      sandboxAttempt: sandbox.attempt,
      containersToKill: kills,
      containersToStart: starts,
      backingOff,
      containersToRemove: toRemove,
    };
  }
}

function formatSeconds(ms: number): string {
  // Upstream prints a Go duration ("10s", "2m40s"); whole seconds are enough here.
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}
