import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials } from '@grpc/grpc-js';
import { callUnary, grpcTargetOf, GrpcStatusError, RuntimeServiceClient, socketPathOf } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime, type CallOutcome } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, expectStatus, notApplicableWhenUnimplemented, requireOk } from './expect-status.js';
import { createContainer, execSync, podWithContainer, runTestPod, startTestContainer, waitForExit } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** How much later than its timeout a timed-out ExecSync may answer (CRI-EXEC-004). */
const timeoutSlackMs = 2000;

/** What the runtime may keep of one output stream (CRI-EXEC-010): 16 MiB, as containerd and CRI-O cap it. */
const outputCapBytes = 16 * 1024 * 1024;

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}

/** A URL the kubelet can hand to kubectl: absolute, http or https. */
function isStreamingUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Whether a process whose command line contains `marker` still runs in the container. */
async function processRuns(ctx: Ctx, containerId: string, marker: string): Promise<boolean> {
  // The bracket keeps grep from finding its own command line.
  const pattern = `[${marker.slice(0, 1)}]${marker.slice(1)}`;
  const result = await execSync(ctx, containerId, ['sh', '-c', `ps -o args | grep -q '${pattern}'`], { ids: ['CRI-EXEC-006'] });
  return result.exitCode === 0;
}

/** Declares the ExecSync, Exec, Attach and PortForward cases (specs/cri/SPEC.md, CRI-EXEC). */
export function declareExecCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-EXEC-001'],
    title: 'ExecSync returns standard output and standard error apart, with exit code 0',
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx);
      const ran = await callRuntime(ctx, 'execSync', { containerId: container.id, cmd: ['sh', '-c', 'printf to-stdout; printf to-stderr >&2'], timeout: 10n }, { extraMs: 10_000 });
      requireOk(ctx, ran, { what: 'ExecSync succeeds' });
      ctx.check(text(ran.response.stdout) === 'to-stdout', { what: 'stdout holds what the command wrote to standard output', expected: 'to-stdout', got: text(ran.response.stdout) });
      ctx.check(text(ran.response.stderr) === 'to-stderr', { what: 'stderr holds what the command wrote to standard error', expected: 'to-stderr', got: text(ran.response.stderr) });
      ctx.check(ran.response.exitCode === 0, { what: 'exit_code is 0 for a command that succeeded', expected: 0, got: ran.response.exitCode });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-002'],
    title: 'A command that exits non-zero makes ExecSync succeed with that exit code',
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx);
      const ran = await callRuntime(ctx, 'execSync', { containerId: container.id, cmd: ['sh', '-c', 'printf before-exit; exit 3'], timeout: 10n }, { extraMs: 10_000 });
      requireOk(ctx, ran, { what: 'ExecSync of a failing command still succeeds as a call' });
      ctx.check(ran.response.exitCode === 3, { what: 'exit_code is the command exit status', expected: 3, got: ran.response.exitCode });
      ctx.check(text(ran.response.stdout) === 'before-exit', { what: "the failing command's output comes back", expected: 'before-exit', got: text(ran.response.stdout) });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-003'],
    title: "ExecSync runs in the container's file system, environment and host name",
    async run(ctx: Ctx) {
      const hostname = ctx.uniqueName('kp-exec').slice(0, 63);
      const container = await podWithContainer(ctx, {
        pod: { hostname },
        container: { envs: [{ key: 'KP_EXEC_PROBE', value: Buffer.from('exec-sees-env') }] },
      });
      const result = await execSync(ctx, container.id, ['sh', '-c', 'echo "$KP_EXEC_PROBE"; hostname; test -f /etc/kubeplug-test-image && echo image-file']);
      ctx.check(result.exitCode === 0 && result.stdout === `exec-sees-env\n${hostname}\nimage-file\n`, {
        what: "the command sees the container's environment variable, host name and image files",
        expected: `exec-sees-env / ${hostname} / image-file`,
        got: result,
      });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-004', 'CRI-EXEC-005', 'CRI-EXEC-006'],
    title: 'ExecSync of a command that outlives its timeout fails with DEADLINE_EXCEEDED and the command is stopped',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx);
      const marker = `sleep ${40 + Math.floor(Math.random() * 50)}`;
      const started = Date.now();
      // The suite's own deadline is far beyond the timeout, so a DEADLINE_EXCEEDED seen here comes from the runtime.
      const ran = await callRuntime(ctx, 'execSync', { containerId: container.id, cmd: marker.split(' '), timeout: 1n }, { extraMs: 20_000 });
      const tookMs = Date.now() - started;
      ctx.require(!ran.ok && tookMs <= 1000 + timeoutSlackMs, {
        ids: ['CRI-EXEC-004'],
        what: 'ExecSync with a 1 s timeout gives up on a 40+ s command within the timeout and 2 s of slack',
        expected: `an error within ${1000 + timeoutSlackMs} ms`,
        got: `${describeOutcome(ran)} after ${tookMs} ms`,
      });
      expectStatus(ctx, ran, 'DEADLINE_EXCEEDED', { ids: ['CRI-EXEC-005'], what: 'the timeout is reported as DEADLINE_EXCEEDED' });
      let running = await processRuns(ctx, container.id, marker);
      for (let attempt = 0; running && attempt < 10; attempt += 1) {
        await sleep(200);
        running = await processRuns(ctx, container.id, marker);
      }
      ctx.check(!running, { ids: ['CRI-EXEC-006'], what: `the timed-out command ("${marker}") no longer runs in the container`, expected: 'gone within 2 s', got: running ? 'still running' : 'gone' });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-007'],
    title: 'ExecSync with timeout 0 waits for a command that takes seconds',
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx);
      const ran = await callRuntime(ctx, 'execSync', { containerId: container.id, cmd: ['sh', '-c', 'sleep 3; echo finished'], timeout: 0n }, { extraMs: 10_000 });
      requireOk(ctx, ran, { what: 'ExecSync with timeout 0 succeeds' });
      ctx.check(text(ran.response.stdout) === 'finished\n' && ran.response.exitCode === 0, {
        what: 'the command ran to its end',
        expected: 'finished, exit 0',
        got: { stdout: text(ran.response.stdout), exitCode: ran.response.exitCode },
      });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-008'],
    title: 'ExecSync fails in a container that is created but not started, and in one that has exited',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const created = await createContainer(ctx, pod);
      const inCreated = await callRuntime(ctx, 'execSync', { containerId: created.id, cmd: ['true'], timeout: 5n });
      ctx.check(!inCreated.ok, { what: 'ExecSync in a CREATED container fails', expected: 'an error', got: describeOutcome(inCreated) });
      const exited = await startTestContainer(ctx, pod, { command: ['sh', '-c', 'exit 0'] });
      await waitForExit(ctx, exited.id);
      const inExited = await callRuntime(ctx, 'execSync', { containerId: exited.id, cmd: ['true'], timeout: 5n });
      ctx.check(!inExited.ok, { what: 'ExecSync in an EXITED container fails', expected: 'an error', got: describeOutcome(inExited) });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-009', 'CRI-RUNTIME-015'],
    title: 'ExecSync in an unknown container fails with NOT_FOUND',
    async run(ctx: Ctx) {
      const ran = await callRuntime(ctx, 'execSync', { containerId: randomBytes(32).toString('hex'), cmd: ['true'], timeout: 5n });
      ctx.check(!ran.ok, { ids: ['CRI-EXEC-009'], what: 'ExecSync in an unknown container fails', expected: 'an error', got: describeOutcome(ran) });
      expectStatus(ctx, ran, 'NOT_FOUND', { ids: ['CRI-RUNTIME-015'], what: 'the failure is NOT_FOUND' });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-010'],
    title: 'ExecSync keeps at most 16 MiB of an output stream and still succeeds',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx);
      const written = outputCapBytes + 1024 * 1024;
      const outcome = await execSyncWithLargeMessages(ctx, container.id, ['sh', '-c', `head -c ${written} /dev/zero; echo done >&2`]);
      requireOk(ctx, outcome, { what: `ExecSync of a command writing ${written} bytes succeeds` });
      ctx.check(outcome.response.stdout.length <= outputCapBytes, {
        what: 'stdout holds at most 16 MiB',
        expected: `<= ${outputCapBytes} bytes`,
        got: `${outcome.response.stdout.length} bytes`,
      });
      ctx.check(outcome.response.exitCode === 0 && text(outcome.response.stderr) === 'done\n', {
        what: 'the command proceeded past the cap and finished normally',
        expected: 'exit 0, stderr "done"',
        got: { exitCode: outcome.response.exitCode, stderr: text(outcome.response.stderr).slice(0, 200) },
      });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-011'],
    title: 'Exec in a running container returns an absolute http(s) URL',
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx);
      const answer = await callRuntime(ctx, 'exec', { containerId: container.id, cmd: ['echo', 'streamed'], tty: false, stdin: false, stdout: true, stderr: true });
      notApplicableWhenUnimplemented(ctx, answer, 'Exec');
      requireOk(ctx, answer, { what: 'Exec succeeds' });
      ctx.check(isStreamingUrl(answer.response.url), { what: 'url is an absolute http or https URL', expected: 'http(s)://…', got: answer.response.url });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-013'],
    title: 'Attach to a running container returns an absolute http(s) URL',
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx);
      const answer = await callRuntime(ctx, 'attach', { containerId: container.id, stdin: false, tty: false, stdout: true, stderr: true });
      notApplicableWhenUnimplemented(ctx, answer, 'Attach');
      requireOk(ctx, answer, { what: 'Attach succeeds' });
      ctx.check(isStreamingUrl(answer.response.url), { what: 'url is an absolute http or https URL', expected: 'http(s)://…', got: answer.response.url });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-014'],
    title: 'PortForward for a ready sandbox returns an absolute http(s) URL',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const answer = await callRuntime(ctx, 'portForward', { podSandboxId: pod.id, port: [8080] });
      notApplicableWhenUnimplemented(ctx, answer, 'PortForward');
      requireOk(ctx, answer, { what: 'PortForward succeeds' });
      ctx.check(isStreamingUrl(answer.response.url), { what: 'url is an absolute http or https URL', expected: 'http(s)://…', got: answer.response.url });
    },
  });
}

/**
 * ExecSync through a client that accepts answers up to 64 MiB, as the
 * kubelet's CRI client accepts 16 MiB: the suite's shared client keeps gRPC's
 * 4 MiB default, which would fail the call on the client's side. Recorded
 * with the output lengths instead of the output.
 */
async function execSyncWithLargeMessages(
  ctx: Ctx,
  containerId: string,
  cmd: readonly string[],
): Promise<CallOutcome<{ stdout: Uint8Array; stderr: Uint8Array; exitCode: number }>> {
  const client = new RuntimeServiceClient(grpcTargetOf(socketPathOf(ctx.subject.runtimeEndpoint)), credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
  const request = { containerId, cmd: [...cmd], timeout: 30n };
  const started = performance.now();
  try {
    const response = await callUnary(client, client.execSync, request, { deadline: new Date(Date.now() + 45_000), signal: ctx.signal });
    ctx.recordCall({
      target: ctx.subject.runtimeEndpoint,
      method: 'RuntimeService/ExecSync',
      request,
      response: { stdout: `${response.stdout.length} bytes`, stderr: text(response.stderr).slice(0, 200), exitCode: response.exitCode },
      durationMs: Math.round(performance.now() - started),
    });
    return { ok: true, response };
  } catch (thrown) {
    const error = GrpcStatusError.from(thrown);
    ctx.recordCall({
      target: ctx.subject.runtimeEndpoint,
      method: 'RuntimeService/ExecSync',
      request,
      status: { code: error.code, message: error.message },
      durationMs: Math.round(performance.now() - started),
    });
    return { ok: false, error };
  } finally {
    client.close();
  }
}
