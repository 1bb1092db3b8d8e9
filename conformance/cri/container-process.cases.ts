import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaseContext, Suite } from '../framework/index.js';
import type { CriSubject } from './cri-subject.js';
import { runTestPod, shellOutput, startTestContainer, waitForExit, type ContainerOptions, type TestContainer, type TestPod } from './pod-fixtures.js';
import { composedImageConfig } from './suite-images.js';

type Ctx = CaseContext<CriSubject>;

/** The stdout lines of a container's CRI log (partial lines joined), as the node sees the file. */
function stdoutLines(container: TestContainer): string[] {
  const file = path.join(container.pod.logDirectory, container.config.logPath);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const lines: string[] = [];
  let partial = '';
  for (const line of text.split('\n')) {
    const match = /^\S+ stdout ([PF]) (.*)$/.exec(line);
    if (match === null) continue;
    partial += match[2] ?? '';
    if (match[1] === 'F') {
      lines.push(partial);
      partial = '';
    }
  }
  return lines;
}

/** Runs a container to its end and returns what it printed (waiting up to 3 s for the log to catch up). */
async function outputOf(ctx: Ctx, pod: TestPod, options: ContainerOptions, check: { ids?: readonly string[] } = {}): Promise<string[]> {
  const container = await startTestContainer(ctx, pod, { image: ctx.subject.run.images.composed, ...options }, check);
  await waitForExit(ctx, container.id, check);
  for (let waited = 0; waited < 3000; waited += 200) {
    const lines = stdoutLines(container);
    if (lines.length > 0) return lines;
    await sleep(200);
  }
  return stdoutLines(container);
}

/** The environment of the container's first process (PID 1 of its own PID namespace). */
async function processEnvironment(ctx: Ctx, containerId: string): Promise<Record<string, string>> {
  const text = await shellOutput(ctx, containerId, "tr '\\0' '\\n' < /proc/1/environ");
  return Object.fromEntries(text.split('\n').filter((line) => line.includes('=')).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** Declares the environment, command composition and working directory cases. */
export function declareContainerProcessCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-CONTAINER-033', 'CRI-CONTAINER-034'],
    title: "The process's environment holds the configured variables over the image's, and the image's others",
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const wanted = [
        { key: 'KP_OVERRIDDEN', value: 'config-value' },
        { key: 'KP_CONFIG_ONLY', value: 'with spaces = and equals' },
      ];
      // KeyValue.value is bytes in kubeplug's contract (string upstream; the wire is the same).
      const envs = wanted.map(({ key, value }) => ({ key, value: Buffer.from(value) }));
      const container = await startTestContainer(ctx, pod, { image: ctx.subject.run.images.composed, command: ['sleep', '3600'], envs });
      const environment = await processEnvironment(ctx, container.id);
      for (const { key, value } of wanted) {
        ctx.check(environment[key] === value, { ids: ['CRI-CONTAINER-033'], what: `${key} is set to the configured value`, expected: value, got: environment[key] ?? 'unset' });
      }
      ctx.check(environment['KP_FROM_IMAGE'] === 'image-value', { ids: ['CRI-CONTAINER-034'], what: "the image's KP_FROM_IMAGE, which the config does not set, is kept", expected: 'image-value', got: environment['KP_FROM_IMAGE'] ?? 'unset' });
      ctx.check(environment['PATH'] === '/bin:/usr/bin', { ids: ['CRI-CONTAINER-034'], what: "the image's PATH is kept", expected: '/bin:/usr/bin', got: environment['PATH'] ?? 'unset' });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-035', 'CRI-CONTAINER-036', 'CRI-CONTAINER-037'],
    title: "command and args compose with the image's Entrypoint and Cmd as Kubernetes defines",
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const [entrypoint, ...entryArgs] = composedImageConfig.Entrypoint;
      const imageCmd = composedImageConfig.Cmd.join(' ');
      const rows = [
        { id: 'CRI-CONTAINER-035', what: 'command and args replace Entrypoint and Cmd', options: { command: ['/bin/echo', 'config-command'], args: ['config-arg'] }, expected: 'config-command config-arg' },
        { id: 'CRI-CONTAINER-035', what: 'command alone replaces Entrypoint and drops Cmd', options: { command: ['/bin/echo', 'config-command-only'] }, expected: 'config-command-only' },
        { id: 'CRI-CONTAINER-036', what: "args alone follow the image's Entrypoint, without its Cmd", options: { args: ['config-arg-1', 'config-arg-2'] }, expected: [...entryArgs, 'config-arg-1', 'config-arg-2'].join(' ') },
        { id: 'CRI-CONTAINER-037', what: "neither: the image's Entrypoint and Cmd run", options: { imageDefaults: true }, expected: [...entryArgs, imageCmd].join(' ') },
      ];
      ctx.note(`the composed image runs ${entrypoint} ${entryArgs.join(' ')} with Cmd ${imageCmd}`);
      for (const row of rows) {
        const lines = await outputOf(ctx, pod, row.options, { ids: [row.id] });
        ctx.check(lines.length === 1 && lines[0] === row.expected, { ids: [row.id], what: `${row.what}: the container prints "${row.expected}"`, expected: [row.expected], got: lines });
      }
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-038'],
    title: "The process starts in the configured working directory, else the image's WorkingDir",
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const rows = [
        { what: 'working_dir /etc is used', image: ctx.subject.run.images.composed, workingDir: '/etc', expected: '/etc' },
        { what: "without working_dir, the image's WorkingDir /tmp is used", image: ctx.subject.run.images.composed, workingDir: '', expected: composedImageConfig.WorkingDir },
        { what: "without working_dir, the busybox image's WorkingDir / is used", image: ctx.subject.run.images.busybox, workingDir: '', expected: '/' },
      ];
      for (const row of rows) {
        const container = await startTestContainer(ctx, pod, { image: row.image, command: ['sleep', '3600'], workingDir: row.workingDir });
        const cwd = await shellOutput(ctx, container.id, 'readlink /proc/1/cwd');
        ctx.check(cwd.trim() === row.expected, { what: row.what, expected: row.expected, got: cwd.trim() });
      }
    },
  });
}
