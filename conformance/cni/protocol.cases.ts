import fs from 'node:fs/promises';
import { atLeast } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';
import {
  callRaw,
  checkRefusal,
  createScene,
  deferDel,
  describeRun,
  leftoversSince,
  linkNames,
  parseOneObject,
  rebaseline,
  refusalIds,
  refuseRequest,
  sceneRequest,
  undoAccepted,
  withPrevResult,
} from './result-checks.js';

type Ctx = CaseContext<CniSubject>;

const needs = { root: true, netns: true } as const;

/** Dozens of plugin runs per case; plugins on Node start slowly on a busy machine. */
const timeoutMs = 180_000;

/** Verbs that act on an attachment and need its variables, at the run's version. */
function attachmentVerbs(ctx: Ctx): ('ADD' | 'DEL' | 'CHECK')[] {
  return atLeast(ctx.subject.version, '0.4.0') ? ['ADD', 'DEL', 'CHECK'] : ['ADD', 'DEL'];
}

/** Variables each attachment verb cannot do without (CNI-PROTO-004's table). */
const requiredByVerb = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
} as const;

/** Container IDs that break CNI-PROTO-006, one way each. */
const malformedContainerIds = ['-starts-with-dash', '.starts-with-dot', 'has space', 'has/slash', '../../escape', 'semi;colon', 'ümlaut'];

/** Interface names Linux cannot take (CNI-PROTO-010), one way each. */
const unusableInterfaceNames = [
  'kp0123456789abcd', // 16 ASCII bytes
  'kpé23456789abcd', // 15 characters, 16 bytes
  '.',
  '..',
  'has/slash',
  'has:colon',
  'has space',
  'has\ttab',
];

/** CNI_ARGS values that are not `K=V` pairs joined by `;`. */
const malformedCniArgs = ['garbage', '=orphan-value', 'A=1;;B=2'];

/** Declares the plugin protocol cases (specs/cni/SPEC.md, CNI-PROTO). */
export function declareProtocolCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-PROTO-001', 'CNI-ERR-001'],
    title: 'The plugin is an executable run without arguments that takes its parameters from the environment and stdin and answers on stdout',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const type = String(ctx.subject.list.plugins[0]?.['type']);
      const pluginPath = await scene.node.invoker.findPlugin(type);
      const stat = await fs.stat(pluginPath);
      ctx.check(stat.isFile() && (stat.mode & 0o111) !== 0, {
        ids: ['CNI-PROTO-001'],
        what: `${pluginPath} is an executable file`,
        expected: 'a regular file with an execute bit',
        got: `${stat.isFile() ? 'regular file' : 'not a regular file'}, mode ${(stat.mode & 0o7777).toString(8)}`,
      });

      // An interface name no default would produce shows the plugin read it from CNI_IFNAME.
      const add = sceneRequest(ctx, scene, 'ADD', { ifName: 'kpproto0' });
      deferDel(ctx, scene, add);
      const added = await callRaw(ctx, scene, add);
      const result = parseOneObject(added.stdout);
      ctx.check(added.exitCode === 0 && result.ok, {
        ids: ['CNI-PROTO-001', 'CNI-ERR-001'],
        what: 'ADD, given only CNI_* variables and the configuration on stdin, exits 0 with a JSON answer on stdout',
        expected: 'exit 0 and one JSON object',
        got: result.ok ? `exit ${added.exitCode}` : `${describeRun(added)} (${result.problem})`,
      });
      const podLinks = await linkNames(scene.pod);
      ctx.check(podLinks.includes(add.ifName), {
        ids: ['CNI-PROTO-001'],
        what: 'the ADD acted where CNI_NETNS and CNI_IFNAME said: the pod holds an interface of that name',
        expected: add.ifName,
        got: podLinks,
      });

      const del = sceneRequest(ctx, scene, 'DEL', { containerId: add.containerId, ifName: add.ifName, conf: withPrevResult(result.ok ? result.value : undefined) });
      const deleted = await callRaw(ctx, scene, del);
      ctx.check(deleted.exitCode === 0 && (deleted.stdout.trim() === '' || parseOneObject(deleted.stdout).ok), {
        ids: ['CNI-PROTO-001', 'CNI-ERR-001'],
        what: 'DEL of that attachment exits 0, printing nothing or JSON',
        expected: 'exit 0',
        got: describeRun(deleted),
      });
    },
  });

  suite.declare({
    ids: ['CNI-PROTO-003', 'CNI-ERR-011', 'CNI-ERR-012', ...refusalIds],
    title: 'CNI_COMMAND selects the operation: the named one runs and nothing else, an unknown one fails with code 4 and acts on nothing',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      for (const command of ['FOO', 'add', 'Add', ' ADD', 'ADD\n', 'VERSIONS']) {
        const request = sceneRequest(ctx, scene, 'ADD', { env: { CNI_COMMAND: command } });
        deferDel(ctx, scene, request);
        const run = await callRaw(ctx, scene, request);
        await checkRefusal(ctx, scene, run, {
          condition: `CNI_COMMAND=${JSON.stringify(command)} with everything ADD needs`,
          mustFail: ['CNI-PROTO-003'],
          warranted: [4],
          demand: { code: 4, ids: ['CNI-ERR-011'] },
          variables: ['CNI_COMMAND'],
          servedVersion: ctx.subject.version,
          nothingLeft: ['CNI-PROTO-003'],
        });
        await undoAccepted(ctx, scene, { ...request, env: { ...request.env, CNI_COMMAND: 'ADD' } }, run);
      }

      // VERSION and DEL handed everything ADD needs must not create the attachment.
      for (const verb of ['VERSION', 'DEL'] as const) {
        const request = sceneRequest(ctx, scene, 'ADD', { env: { CNI_COMMAND: verb } });
        deferDel(ctx, scene, request);
        const run = await callRaw(ctx, scene, request);
        const leftovers = await leftoversSince(scene);
        const answer = parseOneObject(run.stdout);
        const printed = verb === 'VERSION' ? answer.ok && Array.isArray(answer.value['supportedVersions']) : !printsAddResult(run.stdout);
        ctx.check(printed && leftovers.length === 0, {
          ids: ['CNI-PROTO-003'],
          what: `CNI_COMMAND=${verb} with everything ADD needs performs ${verb} only: ${verb === 'VERSION' ? 'it prints the version object' : 'it prints no ADD result'} and creates nothing`,
          expected: { stdout: verb === 'VERSION' ? 'a version object' : 'no ADD result', created: [] },
          got: { run: describeRun(run), created: leftovers },
        });
      }

      const add = sceneRequest(ctx, scene, 'ADD');
      deferDel(ctx, scene, add);
      const added = await callRaw(ctx, scene, add);
      const podLinks = await linkNames(scene.pod);
      ctx.check(added.exitCode === 0 && podLinks.includes(add.ifName), {
        ids: ['CNI-PROTO-003'],
        what: 'CNI_COMMAND=ADD performs ADD: the pod gets the interface',
        expected: `exit 0 and ${add.ifName} in the pod`,
        got: { run: describeRun(added), podLinks },
      });
      await rebaseline(scene);
      const result = parseOneObject(added.stdout);
      const prevResult = withPrevResult(result.ok ? result.value : undefined);
      if (atLeast(ctx.subject.version, '0.4.0')) {
        const checked = await callRaw(ctx, scene, sceneRequest(ctx, scene, 'CHECK', { containerId: add.containerId, conf: prevResult }));
        const leftovers = await leftoversSince(scene);
        ctx.check(!printsAddResult(checked.stdout) && leftovers.length === 0, {
          ids: ['CNI-PROTO-003'],
          what: 'CNI_COMMAND=CHECK on that attachment performs CHECK only: it prints no ADD result and creates nothing',
          expected: { stdout: 'nothing or an error object', created: [] },
          got: { run: describeRun(checked), created: leftovers },
        });
      }
      const deleted = await callRaw(ctx, scene, sceneRequest(ctx, scene, 'DEL', { containerId: add.containerId, conf: prevResult }));
      const podLinksAfter = await linkNames(scene.pod);
      ctx.check(!printsAddResult(deleted.stdout) && !podLinksAfter.includes(add.ifName), {
        ids: ['CNI-PROTO-003'],
        what: 'CNI_COMMAND=DEL performs DEL: the interface leaves the pod',
        expected: `${add.ifName} gone from the pod`,
        got: { run: describeRun(deleted), podLinks: podLinksAfter },
      });
    },
  });

  suite.declare({
    ids: ['CNI-PROTO-004', 'CNI-PROTO-015', 'CNI-ERR-011', 'CNI-ERR-012', ...refusalIds],
    title: 'A request without a variable its operation requires fails with code 4 naming the variable, and acts on nothing',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      for (const verb of attachmentVerbs(ctx)) {
        for (const variable of requiredByVerb[verb]) {
          for (const value of [undefined, ''] as const) {
            await refuseRequest(ctx, scene, verb, { env: { [variable]: value } }, {
              condition: `${verb} with ${variable} ${value === undefined ? 'unset' : 'empty'}`,
              mustFail: ['CNI-PROTO-004'],
              warranted: [4],
              demand: { code: 4, ids: ['CNI-ERR-011'] },
              variables: [variable],
              servedVersion: ctx.subject.version,
              nothingLeft: ['CNI-PROTO-004'],
            });
          }
        }
      }

      if (atLeast(ctx.subject.version, '1.1.0')) {
        for (const value of [undefined, ''] as const) {
          await refuseRequest(ctx, scene, 'GC', { env: { CNI_PATH: value } }, {
            condition: `GC with CNI_PATH ${value === undefined ? 'unset' : 'empty'}`,
            mustFail: ['CNI-PROTO-004'],
            warranted: [4],
            demand: { code: 4, ids: ['CNI-ERR-011'] },
            variables: ['CNI_PATH'],
            servedVersion: ctx.subject.version,
            nothingLeft: ['CNI-PROTO-004'],
          });
        }
      }

      // Without CNI_COMMAND a plugin may describe itself (CNI-PROTO-015) instead of failing.
      const request = sceneRequest(ctx, scene, 'ADD', { env: { CNI_COMMAND: undefined } });
      deferDel(ctx, scene, request);
      const run = await callRaw(ctx, scene, request);
      if (run.exitCode === 0 && run.stdout.trim() === '') {
        const leftovers = await leftoversSince(scene);
        ctx.check(leftovers.length === 0, {
          ids: ['CNI-PROTO-015', 'CNI-PROTO-004'],
          what: 'without CNI_COMMAND the plugin described itself (exit 0, nothing on stdout) and acted on nothing',
          expected: [],
          got: leftovers,
        });
      } else {
        await checkRefusal(ctx, scene, run, {
          condition: 'a request with every variable but CNI_COMMAND',
          mustFail: ['CNI-PROTO-004'],
          warranted: [4],
          demand: { code: 4, ids: ['CNI-ERR-011'] },
          variables: ['CNI_COMMAND'],
          servedVersion: ctx.subject.version,
          nothingLeft: ['CNI-PROTO-004'],
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-PROTO-005'],
    title: 'Every operation works with CNI_ARGS unset or empty',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const settings = { unset: undefined, empty: '' } as const;
      const attachments = [];
      for (const [how, args] of Object.entries(settings)) {
        // A pod each: a plugin that allows one interface per pod (ptp) must not fail this rule for that.
        const scene = await createScene(ctx);
        const add = sceneRequest(ctx, scene, 'ADD', { env: { CNI_ARGS: args } });
        deferDel(ctx, scene, add);
        const added = await callRaw(ctx, scene, add);
        ctx.check(added.exitCode === 0, { what: `ADD with CNI_ARGS ${how} succeeds`, expected: 'exit 0', got: describeRun(added) });
        const result = parseOneObject(added.stdout);
        attachments.push({ scene, how, args, add, prevResult: withPrevResult(result.ok ? result.value : undefined) });
      }
      const first = attachments[0];
      if (first !== undefined && atLeast(ctx.subject.version, '0.4.0')) {
        // A CHECK that fails whatever CNI_ARGS holds fails for another reason; the control tells them apart.
        const scene = first.scene;
        const control = await callRaw(ctx, scene, sceneRequest(ctx, scene, 'CHECK', { containerId: first.add.containerId, ifName: first.add.ifName, env: { CNI_ARGS: 'IgnoreUnknown=1' }, conf: first.prevResult }));
        for (const [how, args] of Object.entries(settings)) {
          const checked = await callRaw(ctx, scene, sceneRequest(ctx, scene, 'CHECK', { containerId: first.add.containerId, ifName: first.add.ifName, env: { CNI_ARGS: args }, conf: first.prevResult }));
          if (control.exitCode !== 0) {
            ctx.note(`CHECK fails even with CNI_ARGS=IgnoreUnknown=1 (${describeRun(control)}); CHECK with CNI_ARGS ${how} is not judged`);
            break;
          }
          ctx.check(checked.exitCode === 0, { what: `CHECK with CNI_ARGS ${how} passes, as it does with CNI_ARGS=IgnoreUnknown=1`, expected: 'exit 0', got: describeRun(checked) });
        }
      }
      for (const { scene, how, args, add, prevResult } of attachments) {
        const deleted = await callRaw(ctx, scene, sceneRequest(ctx, scene, 'DEL', { containerId: add.containerId, ifName: add.ifName, env: { CNI_ARGS: args }, conf: prevResult }));
        ctx.check(deleted.exitCode === 0, { what: `DEL with CNI_ARGS ${how} succeeds`, expected: 'exit 0', got: describeRun(deleted) });
      }
    },
  });

  suite.declare({
    ids: ['CNI-ERR-011', 'CNI-ERR-012', ...refusalIds],
    title: 'A CNI_ARGS that is not KEY=VALUE pairs is ignored or refused with code 4 naming CNI_ARGS, and a refusal acts on nothing',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      for (const args of malformedCniArgs) {
        const request = sceneRequest(ctx, scene, 'ADD', { env: { CNI_ARGS: args } });
        deferDel(ctx, scene, request);
        const run = await callRaw(ctx, scene, request);
        if (run.exitCode === 0) {
          ctx.note(`ADD with CNI_ARGS=${JSON.stringify(args)} was accepted (ignoring malformed arguments is allowed)`);
          await undoAccepted(ctx, scene, request, run);
          continue;
        }
        await checkRefusal(ctx, scene, run, {
          condition: `ADD with CNI_ARGS=${JSON.stringify(args)}`,
          mustFail: [],
          warranted: [4],
          demand: { code: 4, ids: ['CNI-ERR-011'] },
          variables: ['CNI_ARGS'],
          servedVersion: ctx.subject.version,
          nothingLeft: ['CNI-ERR-011'],
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-PROTO-007', 'CNI-ERR-011', 'CNI-ERR-012', ...refusalIds],
    title: 'A malformed container ID is refused with code 4 before anything is made',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      for (const verb of attachmentVerbs(ctx)) {
        for (const containerId of malformedContainerIds) {
          await refuseRequest(ctx, scene, verb, { containerId }, {
            condition: `${verb} with CNI_CONTAINERID=${JSON.stringify(containerId)}`,
            mustFail: ['CNI-PROTO-007'],
            warranted: [4],
            demand: { code: 4, ids: ['CNI-PROTO-007', 'CNI-ERR-011'] },
            variables: ['CNI_CONTAINERID'],
            servedVersion: ctx.subject.version,
            nothingLeft: ['CNI-PROTO-007'],
          });
        }
      }
    },
  });

  suite.declare({
    ids: ['CNI-PROTO-011', 'CNI-ERR-011', 'CNI-ERR-012', ...refusalIds],
    title: 'ADD with an interface name Linux cannot take fails with code 4 and creates nothing',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      for (const ifName of unusableInterfaceNames) {
        await refuseRequest(ctx, scene, 'ADD', { ifName }, {
          condition: `ADD with CNI_IFNAME=${JSON.stringify(ifName)} (${Buffer.byteLength(ifName)} bytes)`,
          mustFail: ['CNI-PROTO-011'],
          warranted: [4],
          demand: { code: 4, ids: ['CNI-ERR-011'] },
          variables: ['CNI_IFNAME'],
          servedVersion: ctx.subject.version,
          nothingLeft: ['CNI-PROTO-011'],
        });
      }
    },
  });
}

/** True when stdout holds what only a successful ADD prints. */
function printsAddResult(stdout: string): boolean {
  const parsed = parseOneObject(stdout);
  return parsed.ok && !('code' in parsed.value) && ['interfaces', 'ips', 'ip4', 'ip6'].some((key) => key in parsed.value);
}
