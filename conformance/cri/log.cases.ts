import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, expectStatus } from './expect-status.js';
import { entriesOf, reassembleLines, readCriLog, summariseEntries, type CriLogEntry, type CriLogFile } from './log-lines.js';
import { runTestPod, startTestContainer, waitForExit, type TestContainer } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;
type Entry = Extract<CriLogEntry, { ok: true }>;

/** Slack for clock rounding between the suite's clock and the runtime's timestamps. */
const clockSlackNs = 1_000_000_000n;

/** Where the kubelet would look for a container's log: the pod's log directory joined with the container's log path. */
function logFileOf(container: TestContainer): string {
  return path.join(container.pod.logDirectory, container.config.logPath);
}

/** Polls the log file (every 100 ms) until `ready` holds for it, or the time runs out; returns the last read. */
async function waitForLog(file: string, ready: (log: CriLogFile) => boolean, timeoutMs: number): Promise<CriLogFile | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await readCriLog(file);
    if ((log !== undefined && ready(log)) || Date.now() > deadline) return log;
    await sleep(100);
  }
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Declares the log cases (specs/cri/SPEC.md, CRI-LOG). */
export function declareLogCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-LOG-001', 'CRI-LOG-002', 'CRI-LOG-003', 'CRI-LOG-004', 'CRI-LOG-005', 'CRI-LOG-006', 'CRI-LOG-008', 'CRI-LOG-009', 'CRI-LOG-010', 'CRI-LOG-011'],
    title: "A container's output is in its log file, in the CRI log format, once it has exited",
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const startedNs = nowNs();
      const script = 'echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2; echo out-3; printf no-newline';
      const container = await startTestContainer(ctx, pod, { command: ['sh', '-c', script] });
      const status = await waitForExit(ctx, container.id);
      // Read at once: CRI-LOG-011 wants everything there as soon as the container is reported EXITED.
      const file = logFileOf(container);
      const log = await readCriLog(file);
      const endedNs = nowNs();

      ctx.check(status.logPath === file, {
        ids: ['CRI-LOG-002'],
        what: 'ContainerStatus.log_path is the log directory joined with the log path',
        expected: file,
        got: status.logPath,
      });
      ctx.require(log !== undefined, { ids: ['CRI-LOG-001'], what: 'the log file exists at log_directory/log_path', expected: file, got: 'no such file' });
      ctx.check(log.entries.length > 0, { ids: ['CRI-LOG-001'], what: "the container's output went to the log file", expected: 'entries', got: log.entries.length });

      const malformed = log.entries.filter((entry) => !entry.ok);
      ctx.check(malformed.length === 0 && !log.unterminated, {
        ids: ['CRI-LOG-003'],
        what: 'every line reads "<timestamp> <stream> <tags> <content>" and ends with a newline',
        expected: 'no malformed or unterminated line',
        got: malformed.length === 0 && !log.unterminated ? summariseEntries(log.entries) : { malformed: summariseEntries(malformed), unterminated: log.unterminated },
      });
      const good = log.entries.filter((entry): entry is Entry => entry.ok);
      const outOfRun = good.filter((entry) => entry.timeNs < startedNs - clockSlackNs || entry.timeNs > endedNs + clockSlackNs);
      ctx.check(good.length > 0 && outOfRun.length === 0, {
        ids: ['CRI-LOG-004'],
        what: 'every timestamp is RFC 3339 with nanoseconds and lies within the run (1 s slack)',
        expected: `between ${new Date(Number(startedNs / 1_000_000n)).toISOString()} and ${new Date(Number(endedNs / 1_000_000n)).toISOString()}`,
        got: outOfRun.length === 0 ? `${good.length} entries in range` : summariseEntries(outOfRun),
      });
      const streams = new Set(good.map((entry) => entry.stream));
      const stdout = entriesOf(log, 'stdout');
      const stderr = entriesOf(log, 'stderr');
      const outLines = reassembleLines(stdout);
      const errLines = reassembleLines(stderr);
      ctx.check(
        [...streams].every((stream) => stream === 'stdout' || stream === 'stderr') &&
          stdout.every((entry) => entry.content.startsWith('out-') || entry.content === 'no-newline') &&
          stderr.every((entry) => entry.content.startsWith('err-')),
        {
          ids: ['CRI-LOG-005'],
          what: 'standard output is logged as "stdout" and standard error as "stderr"',
          expected: 'out-* and no-newline on stdout, err-* on stderr',
          got: summariseEntries(good),
        },
      );
      const fullLines = [...stdout, ...stderr].filter((entry) => entry.content !== 'no-newline');
      ctx.check(fullLines.length === 5 && fullLines.every((entry) => entry.tags[0] === 'F'), {
        ids: ['CRI-LOG-006'],
        what: 'each newline-terminated line is one entry tagged F, its content without the newline',
        expected: 'out-1, out-2, out-3, err-1, err-2 each tagged F',
        got: summariseEntries(fullLines),
      });
      const lastOut = stdout.at(-1);
      ctx.check(lastOut?.content === 'no-newline' && lastOut.tags[0] === 'P', {
        ids: ['CRI-LOG-008'],
        what: 'output left without a closing newline is tagged P',
        expected: 'P no-newline',
        got: lastOut === undefined ? 'no stdout entry' : `${lastOut.tags.join(':')} ${lastOut.content}`,
      });
      ctx.check(
        JSON.stringify(outLines.map((line) => line.text)) === JSON.stringify(['out-1', 'out-2', 'out-3', 'no-newline']) &&
          JSON.stringify(errLines.map((line) => line.text)) === JSON.stringify(['err-1', 'err-2']),
        {
          ids: ['CRI-LOG-009', 'CRI-LOG-011'],
          what: "each stream holds the container's lines in order, none lost or repeated, as soon as it is EXITED",
          expected: { stdout: ['out-1', 'out-2', 'out-3', 'no-newline'], stderr: ['err-1', 'err-2'] },
          got: { stdout: outLines.map((line) => line.text), stderr: errLines.map((line) => line.text) },
        },
      );
      const backwards = good.filter((entry, index) => index > 0 && entry.timeNs < (good[index - 1]?.timeNs ?? 0n));
      ctx.check(backwards.length === 0, {
        ids: ['CRI-LOG-010'],
        what: 'timestamps never go backwards within the file',
        expected: 'non-decreasing timestamps',
        got: backwards.length === 0 ? 'non-decreasing' : summariseEntries(backwards),
      });
    },
  });

  suite.declare({
    ids: ['CRI-LOG-007'],
    title: 'A line longer than one log entry is split into P entries ended by an F entry',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      // 300 000 characters: far beyond containerd's 16 KiB and CRI-O's 8 KiB entry limits.
      const length = 300_000;
      const container = await startTestContainer(ctx, pod, { command: ['sh', '-c', `yes x | head -n ${length} | tr -d '\\n'; echo`] });
      await waitForExit(ctx, container.id);
      const log = await readCriLog(logFileOf(container));
      ctx.require(log !== undefined, { what: 'the log file exists', expected: logFileOf(container), got: 'no such file' });
      const stdout = entriesOf(log, 'stdout');
      const tags = stdout.map((entry) => entry.tags[0]);
      const shapeHolds = tags.length > 0 && tags.at(-1) === 'F' && tags.slice(0, -1).every((tag) => tag === 'P');
      const joined = stdout.map((entry) => entry.content).join('');
      ctx.check(shapeHolds, {
        what: 'the long line is written as P entries followed by one F entry',
        expected: 'P… F',
        got: `${tags.length} entries tagged ${[...new Set(tags)].join(', ')}; last ${tags.at(-1) ?? 'none'}`,
      });
      ctx.check(joined.length === length && /^x*$/.test(joined), {
        what: 'the entries, concatenated in order, are the original line',
        expected: `${length} times "x"`,
        got: `${joined.length} characters${/^x*$/.test(joined) ? '' : ', not all "x"'}`,
      });
    },
  });

  suite.declare({
    ids: ['CRI-LOG-012'],
    title: 'ReopenContainerLog after a rotation sends further output to a new file at the log path',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const script = "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo line-$i; sleep 0.2; done";
      const container = await startTestContainer(ctx, pod, { command: ['sh', '-c', script] });
      const file = logFileOf(container);
      const first = await waitForLog(file, (log) => entriesOf(log, 'stdout').length >= 2, 10_000);
      ctx.require(first !== undefined && entriesOf(first, 'stdout').length >= 2, {
        what: 'the running container logs its lines',
        expected: 'at least 2 entries',
        got: first === undefined ? 'no log file' : summariseEntries(first.entries),
      });
      const rotated = `${file}.rotated`;
      await fs.rename(file, rotated);
      ctx.note(`renamed ${file} to ${rotated}, as the kubelet's log rotation does`);
      const reopened = await callRuntime(ctx, 'reopenContainerLog', { containerId: container.id });
      expectStatus(ctx, reopened, 'OK', { what: 'ReopenContainerLog of a running container succeeds' });
      const fresh = await waitForLog(file, (log) => entriesOf(log, 'stdout').length >= 2, 5_000);
      ctx.require(fresh !== undefined && entriesOf(fresh, 'stdout').length >= 1, {
        what: 'further output goes to a new file at the log path',
        expected: `entries in ${file}`,
        got: fresh === undefined ? 'no file at the log path' : summariseEntries(fresh.entries),
      });
      const old = await readCriLog(rotated);
      const numbers = (log: CriLogFile | undefined): number[] =>
        log === undefined ? [] : entriesOf(log, 'stdout').map((entry) => Number(/^line-(\d+)$/.exec(entry.content)?.[1] ?? Number.NaN));
      const before = numbers(old);
      const after = numbers(fresh);
      const lastBefore = Math.max(...before);
      ctx.check(before.length >= 2 && after.length >= 1 && after.every((n) => n > lastBefore) && after.every((n) => !Number.isNaN(n)), {
        what: 'the renamed file keeps the earlier lines and the new file holds only later ones',
        expected: 'every line number in the new file above the last one in the renamed file',
        got: { renamed: before, new: after },
      });
    },
  });

  suite.declare({
    ids: ['CRI-LOG-013'],
    title: 'ReopenContainerLog of an exited container creates no file when it fails',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, { command: ['sh', '-c', 'echo done'] });
      await waitForExit(ctx, container.id);
      const file = logFileOf(container);
      await fs.rm(`${file}.rotated`, { force: true });
      await fs.rename(file, `${file}.rotated`).catch(() => undefined);
      const reopened = await callRuntime(ctx, 'reopenContainerLog', { containerId: container.id });
      // Give a runtime that created a file asynchronously the time to show it.
      await sleep(300);
      const exists = await fs
        .stat(file)
        .then(() => true)
        .catch(() => false);
      ctx.check(reopened.ok || !exists, {
        what: 'a failed ReopenContainerLog leaves no new file at the log path',
        expected: 'OK, or an error and no file',
        got: `${describeOutcome(reopened)}; file at the log path: ${exists ? 'yes' : 'no'}`,
      });
    },
  });

  suite.declare({
    ids: ['CRI-LOG-014', 'CRI-RUNTIME-015'],
    title: 'ReopenContainerLog of an unknown container fails',
    async run(ctx: Ctx) {
      const reopened = await callRuntime(ctx, 'reopenContainerLog', { containerId: randomBytes(32).toString('hex') });
      ctx.check(!reopened.ok, { ids: ['CRI-LOG-014'], what: 'ReopenContainerLog of an unknown container fails', expected: 'an error', got: describeOutcome(reopened) });
      expectStatus(ctx, reopened, 'NOT_FOUND', { ids: ['CRI-RUNTIME-015'], what: 'the failure is NOT_FOUND' });
    },
  });
}
