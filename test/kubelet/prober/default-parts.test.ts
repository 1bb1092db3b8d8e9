import t from 'tap';
import { defaultKubeletParts, shouldPullImage, stopTimeoutSeconds } from '../../../kubelet/default-parts.js';
import type { ProbeTally } from '../../../kubelet/kubelet-parts.js';

t.test('images: Always pulls, IfNotPresent pulls only a missing image, Never never pulls', async (t) => {
  for (const [policy, present, pull] of [['Always', true, true], ['Always', false, true], ['IfNotPresent', true, false], ['IfNotPresent', false, true], ['Never', true, false], ['Never', false, false]] as const) {
    t.equal(shouldPullImage(policy, present), pull, `${policy} with the image ${present ? 'present' : 'absent'}`);
  }
});

t.test('readiness starts as failure, liveness and startup as success', async (t) => {
  t.equal(defaultKubeletParts.initialProbeVerdict('readiness'), 'failure');
  t.equal(defaultKubeletParts.initialProbeVerdict('liveness'), 'success');
  t.equal(defaultKubeletParts.initialProbeVerdict('startup'), 'success');
});

t.test('the tally turns only after threshold outcomes in a row', async (t) => {
  const thresholds = { successThreshold: 2, failureThreshold: 3 };
  let tally: ProbeTally = { verdict: 'success', consecutive: 0 };
  const verdicts: string[] = [];
  for (const outcome of ['failure', 'failure', 'success', 'failure', 'failure', 'failure', 'success', 'success'] as const) {
    tally = defaultKubeletParts.tallyProbe(tally, outcome, thresholds);
    verdicts.push(tally.verdict);
  }
  t.same(verdicts, ['success', 'success', 'success', 'success', 'success', 'failure', 'failure', 'success']);
});

t.test('startup gates liveness and readiness, and rests once it succeeded', async (t) => {
  t.same(
    (['startup', 'liveness', 'readiness'] as const).map((kind) => [defaultKubeletParts.mayProbe(kind, false), defaultKubeletParts.mayProbe(kind, true)]),
    [[true, false], [false, true], [false, true]],
  );
});

t.test('the stop timeout is what preStop left of the grace period, at least 2 s', async (t) => {
  t.equal(stopTimeoutSeconds(30, 0), 30);
  t.equal(stopTimeoutSeconds(30, 10.4), 20);
  t.equal(stopTimeoutSeconds(30, 29), 2);
  t.equal(stopTimeoutSeconds(0, 0), 2);
});

t.test('runLifecycleHook runs the hook', async (t) => {
  let ran = false;
  await defaultKubeletParts.runLifecycleHook('preStop', async () => void (ran = true));
  t.ok(ran);
});
