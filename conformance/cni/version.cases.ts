import { atLeast, cniSupportedVersions, compareVersions, isCniVersion } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';
import {
  askVersion,
  callRaw,
  checkRefusal,
  createScene,
  deferDel,
  describeRun,
  parseOneObject,
  refusalIds,
  refused,
  requireListedVersions,
  resultProblems,
  sceneRequest,
  undoAccepted,
  withVersion,
} from './result-checks.js';

type Ctx = CaseContext<CniSubject>;

const needs = { root: true, netns: true } as const;

/** Dozens of plugin runs per case; plugins on Node start slowly on a busy machine. */
const timeoutMs = 180_000;

/** Declares the VERSION cases (specs/cni/SPEC.md, CNI-VERSION). */
export function declareVersionCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-VERSION-001', 'CNI-VERSION-002', 'CNI-VERSION-004'],
    title: 'VERSION, even with only CNI_COMMAND set, prints a version object listing released spec versions and exits 0',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const stdin = JSON.stringify({ cniVersion: ctx.subject.version });
      const bare = await askVersion(ctx, scene, stdin, { bare: true });
      const bareAnswer = parseOneObject(bare.stdout);
      ctx.check(bare.exitCode === 0 && bareAnswer.ok && Array.isArray(bareAnswer.value['supportedVersions']), {
        ids: ['CNI-VERSION-001'],
        what: 'VERSION with CNI_COMMAND as the only CNI variable succeeds and prints the version object',
        expected: 'exit 0 and {"cniVersion", "supportedVersions"}',
        got: describeRun(bare),
      });
      // The answer itself is judged on a request made the way a runtime makes it, independent of CNI-VERSION-001.
      const run = await askVersion(ctx, scene, stdin);
      const answer = parseOneObject(run.stdout);
      const value = answer.ok ? answer.value : undefined;
      ctx.require(run.exitCode === 0 && value !== undefined && typeof value['cniVersion'] === 'string' && Array.isArray(value['supportedVersions']), {
        ids: ['CNI-VERSION-002'],
        what: 'VERSION exits 0 and prints one JSON object with cniVersion and supportedVersions',
        expected: 'exit 0 and {"cniVersion": "…", "supportedVersions": […]}',
        got: describeRun(run),
      });
      const versions = value['supportedVersions'] as unknown[];
      const unreleased = versions.filter((version) => !isCniVersion(version));
      ctx.check(versions.length > 0 && unreleased.length === 0, {
        ids: ['CNI-VERSION-004'],
        what: 'supportedVersions is a non-empty list of released spec versions',
        expected: `a non-empty subset of ${cniSupportedVersions.join(', ')}`,
        got: versions.length === 0 ? 'an empty list' : unreleased.length > 0 ? `unreleased: ${JSON.stringify(unreleased)}` : versions,
      });
    },
  });

  suite.declare({
    ids: ['CNI-VERSION-003'],
    title: 'VERSION answers in the version it was asked in, for every version the plugin lists',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const versions = await requireListedVersions(ctx, scene);
      for (const version of versions.filter(isCniVersion)) {
        const run = await askVersion(ctx, scene, JSON.stringify({ cniVersion: version }));
        const answer = parseOneObject(run.stdout);
        ctx.check(answer.ok && answer.value['cniVersion'] === version, {
          what: `VERSION asked in ${version} answers with cniVersion ${version}`,
          expected: version,
          got: answer.ok ? (answer.value['cniVersion'] ?? '(no cniVersion)') : describeRun(run),
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-VERSION-006'],
    title: 'VERSION answers the same whatever stdin holds',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const versions = await requireListedVersions(ctx, scene);
      const stdins = { 'empty stdin': '', 'an object without cniVersion': '{}', 'an unreleased cniVersion': '{"cniVersion":"9.9.9"}', 'text that is not JSON': 'not json', 'a numeric cniVersion': '{"cniVersion":1}' };
      for (const [what, stdin] of Object.entries(stdins)) {
        const run = await askVersion(ctx, scene, stdin);
        const answer = parseOneObject(run.stdout);
        const listed = answer.ok ? answer.value['supportedVersions'] : undefined;
        ctx.check(run.exitCode === 0 && JSON.stringify(listed) === JSON.stringify(versions), {
          what: `VERSION with ${what} succeeds and lists the same versions`,
          expected: { exit: 0, supportedVersions: versions },
          got: answer.ok ? { exit: run.exitCode, supportedVersions: listed ?? null } : describeRun(run),
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-VERSION-007'],
    title: 'ADD without cniVersion is served as 0.1.0: in the ip4/ip6 result format, or refused with code 1 by a plugin without 0.1.0',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const versions = await requireListedVersions(ctx, scene);
      const add = sceneRequest(ctx, scene, 'ADD', { conf: withVersion(undefined) });
      deferDel(ctx, scene, add);
      const run = await callRaw(ctx, scene, add);
      if (!versions.includes('0.1.0')) {
        await checkRefusal(ctx, scene, run, {
          condition: 'ADD without cniVersion to a plugin that does not list 0.1.0',
          mustFail: [],
          warranted: [1],
          demand: { code: 1, ids: ['CNI-VERSION-007'] },
          nothingLeft: ['CNI-VERSION-007'],
        });
        await undoAccepted(ctx, scene, add, run);
        return;
      }
      const answer = parseOneObject(run.stdout);
      ctx.check(run.exitCode === 0 && answer.ok, { what: 'ADD without cniVersion succeeds', expected: 'exit 0 and a result', got: describeRun(run) });
      if (answer.ok) {
        // Read as 0.1.0, the answer takes the ip4/ip6 shape; its cniVersion may say 0.1.0 or be absent.
        const problems = resultProblems({ ...answer.value, cniVersion: '0.1.0' }, '0.1.0').filter((problem) => problem.id === 'CNI-RESULT-020' || problem.id === 'CNI-RESULT-021');
        ctx.check(problems.length === 0, {
          what: 'the result has the 0.1.0/0.2.0 ip4/ip6 shape',
          expected: '{"cniVersion", "ip4"/"ip6", "dns"}',
          got: problems.length === 0 ? answer.value : problems.map((problem) => problem.problem),
        });
      }
      const del = sceneRequest(ctx, scene, 'DEL', { containerId: add.containerId, conf: withVersion(undefined) });
      const deleted = await callRaw(ctx, scene, del);
      ctx.check(deleted.exitCode === 0, { what: 'DEL without cniVersion succeeds', expected: 'exit 0', got: describeRun(deleted) });
    },
  });

  suite.declare({
    ids: ['CNI-VERSION-008', ...refusalIds],
    title: 'CHECK in a request older than 0.4.0 and GC or STATUS in one older than 1.1.0 fail with code 1 and act on nothing',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const versions = await requireListedVersions(ctx, scene);
      const newestBefore = (limit: string): string | undefined =>
        versions.filter((version) => isCniVersion(version) && !atLeast(version, limit)).sort(compareVersions).pop();
      const probes = [
        { verb: 'CHECK' as const, version: newestBefore('0.4.0') },
        { verb: 'GC' as const, version: newestBefore('1.1.0') },
        { verb: 'STATUS' as const, version: newestBefore('1.1.0') },
      ].filter((probe): probe is { verb: 'CHECK' | 'GC' | 'STATUS'; version: string } => probe.version !== undefined);
      if (probes.length === 0) ctx.notApplicable('the plugin lists no version older than the operations it serves');
      for (const { verb, version } of probes) {
        const request = sceneRequest(ctx, scene, verb, { conf: withVersion(version) });
        const run = await callRaw(ctx, scene, request);
        await checkRefusal(ctx, scene, run, {
          condition: `${verb} in a ${version} request`,
          mustFail: ['CNI-VERSION-008'],
          // A plugin of a version without the verb may also call it an unknown CNI_COMMAND.
          warranted: [1, 4],
          demand: { code: 1, ids: ['CNI-VERSION-008'] },
          servedVersion: version,
          nothingLeft: ['CNI-VERSION-008'],
        });
        if (!refused(run)) ctx.note(`${verb} in ${version} was accepted`);
      }
    },
  });
}
