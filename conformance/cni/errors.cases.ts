import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { atLeast, cniSupportedVersions, type JsonObject, type PluginRun } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';
import {
  callRaw,
  checkRefusal,
  createScene,
  deferDel,
  describeRun,
  parseOneObject,
  refusalIds,
  refused,
  refuseRequest,
  requireListedVersions,
  sceneRequest,
  withPrevResult,
  withVersion,
  type PluginScene,
  type Refusal,
  type SceneRequest,
} from './result-checks.js';

type Ctx = CaseContext<CniSubject>;

const needs = { root: true, netns: true } as const;

/** Dozens of plugin runs per case; plugins on Node start slowly on a busy machine. */
const timeoutMs = 180_000;

/** Verbs that act on an attachment, at the run's version. */
function attachmentVerbs(ctx: Ctx): ('ADD' | 'DEL' | 'CHECK')[] {
  return atLeast(ctx.subject.version, '0.4.0') ? ['ADD', 'DEL', 'CHECK'] : ['ADD', 'DEL'];
}

/** Versions no plugin can list: never released. */
const unreleasedVersions = ['9.9.9'];

/** Declares the error cases (specs/cni/SPEC.md, CNI-ERR). */
export function declareErrorCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-ERR-013', ...refusalIds],
    title: 'A request whose stdin cannot be read fails with code 5 and acts on nothing',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      for (const verb of attachmentVerbs(ctx)) {
        const request = sceneRequest(ctx, scene, verb);
        if (verb === 'ADD') deferDel(ctx, scene, request);
        const run = await runWithUnreadableStdin(ctx, scene, request);
        await checkRefusal(ctx, scene, run, {
          condition: `${verb} whose stdin is a directory (read fails with EISDIR)`,
          mustFail: [],
          warranted: [5],
          demand: { code: 5, ids: ['CNI-ERR-013'] },
          nothingLeft: ['CNI-ERR-013'],
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-ERR-014', ...refusalIds],
    title: 'A request whose stdin is not a JSON configuration fails with code 6 and acts on nothing',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const truncate = (conf: JsonObject): string => JSON.stringify(conf).slice(0, -10);
      const inputs: Record<string, (conf: JsonObject) => string> = {
        'text that is not JSON': () => 'this is not json',
        'empty stdin': () => '',
        'a configuration cut short': truncate,
        'a JSON array': () => '[]',
        'a JSON string': () => '"kubeplug"',
      };
      for (const verb of ['ADD', 'DEL'] as const) {
        for (const [what, conf] of Object.entries(inputs)) {
          await refuseRequest(ctx, scene, verb, { conf }, {
            condition: `${verb} with ${what} on stdin`,
            mustFail: [],
            warranted: [6],
            demand: { code: 6, ids: ['CNI-ERR-014'] },
            nothingLeft: ['CNI-ERR-014'],
          });
        }
      }
    },
  });

  suite.declare({
    ids: ['CNI-ERR-015', ...refusalIds],
    title: 'A configuration without a valid network name is refused with code 7 and acts on nothing',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const names: Record<string, (conf: JsonObject) => JsonObject> = {
        'no name': ({ name: _name, ...rest }) => rest,
        'an empty name': (conf) => ({ ...conf, name: '' }),
        'a name with forbidden characters': (conf) => ({ ...conf, name: 'kp net!' }),
      };
      for (const [what, conf] of Object.entries(names)) {
        await refuseRequest(ctx, scene, 'ADD', { conf }, {
          condition: `ADD of a configuration with ${what}`,
          mustFail: [],
          warranted: [7],
          demand: { code: 7, ids: ['CNI-ERR-015'] },
          servedVersion: ctx.subject.version,
          nothingLeft: ['CNI-ERR-015'],
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-ERR-008', ...refusalIds],
    title: 'Every operation but VERSION in a version the plugin does not list fails with code 1 and acts on nothing',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const listed = await requireListedVersions(ctx, scene);
      const unlisted = [...cniSupportedVersions.filter((version) => !listed.includes(version)), ...unreleasedVersions];
      ctx.note(`the first plugin lists ${listed.join(', ')}; asking in ${unlisted.join(', ')}`);
      const knowsGc = listed.some((version) => atLeast(version, '1.1.0'));
      for (const version of unlisted) {
        for (const verb of ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS'] as const) {
          const lifecycle = verb === 'GC' || verb === 'STATUS';
          // A plugin of a version before GC and STATUS may take them for unknown commands (code 4).
          const codeFixed = !lifecycle || knowsGc;
          await refuseRequest(ctx, scene, verb, { conf: withVersion(version) }, {
            condition: `${verb} in a ${version} request`,
            mustFail: codeFixed ? [] : ['CNI-ERR-008'],
            warranted: codeFixed ? [1] : [1, 4],
            ...(codeFixed ? { demand: { code: 1, ids: ['CNI-ERR-008'] } } : {}),
            nothingLeft: ['CNI-ERR-008'],
          });
        }
      }
    },
  });

  suite.declare({
    ids: ['CNI-ERR-010', ...refusalIds],
    title: 'Code 3 comes only for attachments the plugin holds nothing for',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const scene = await createScene(ctx);
      const codes: number[] = [];
      const judge = async (request: SceneRequest, refusal: Refusal): Promise<void> => {
        const run = await callRaw(ctx, scene, request);
        if (!refused(run)) {
          ctx.note(`${refusal.condition}: accepted (${describeRun(run)})`);
          return;
        }
        const code = await checkRefusal(ctx, scene, run, refusal);
        if (code !== undefined) codes.push(code);
      };

      await judge(sceneRequest(ctx, scene, 'DEL'), {
        condition: 'DEL of a container the plugin never saw',
        mustFail: [],
        warranted: [3],
        nothingLeft: [],
      });

      if (atLeast(ctx.subject.version, '0.4.0')) {
        const add = sceneRequest(ctx, scene, 'ADD');
        deferDel(ctx, scene, add);
        const added = await callRaw(ctx, scene, add);
        const result = parseOneObject(added.stdout);
        ctx.require(added.exitCode === 0 && result.ok, { ids: ['CNI-RESULT-001'], what: 'ADD of a container to CHECK against succeeds', expected: 'exit 0 and a result', got: describeRun(added) });
        // Same namespace, interface name and prevResult: only the container ID is one the plugin never saw.
        await judge(sceneRequest(ctx, scene, 'CHECK', { conf: withPrevResult(result.value) }), {
          condition: 'CHECK of a container the plugin never saw (with another container’s result as prevResult)',
          mustFail: [],
          warranted: [3],
          nothingLeft: [],
        });
        const lying = withPrevResult(shiftFirstAddress(result.value));
        await judge(sceneRequest(ctx, scene, 'CHECK', { containerId: add.containerId, conf: lying }), {
          condition: 'CHECK of a held attachment whose prevResult names an address it was not given',
          mustFail: [],
          // The attachment exists: no well-known code but "try again later" fits a mismatch.
          warranted: [11],
          holdsAttachment: true,
          nothingLeft: [],
        });
        const del = sceneRequest(ctx, scene, 'DEL', { containerId: add.containerId, conf: withPrevResult(result.value) });
        const deleted = await callRaw(ctx, scene, del);
        if (deleted.exitCode !== 0) ctx.note(`DEL of the checked container failed: ${describeRun(deleted)}`);
      }

      if (!codes.includes(3)) {
        ctx.check(true, {
          ids: ['CNI-ERR-010'],
          what: 'no refusal of a request about an unknown container (DEL, and CHECK from 0.4.0) or a held one carried code 3',
          expected: 'code 3 only with nothing held',
          got: codes.length === 0 ? 'no refusals' : `codes ${codes.join(', ')}`,
        });
      }
    },
  });
}

/** A copy of a result whose first address is moved 100 addresses on, a claim CHECK can refute. */
function shiftFirstAddress(result: JsonObject): JsonObject {
  const copy = structuredClone(result);
  const ips = copy['ips'];
  const first = Array.isArray(ips) ? (ips[0] as JsonObject | undefined) : undefined;
  const address = first?.['address'];
  if (first !== undefined && typeof address === 'string') {
    const [ip, prefix] = address.split('/');
    const octets = (ip ?? '').split('.').map(Number);
    if (octets.length === 4 && octets.every((octet) => Number.isInteger(octet))) {
      octets[3] = ((octets[3] ?? 0) + 100) % 254 + 1;
      first['address'] = `${octets.join('.')}/${prefix ?? '32'}`;
    } else {
      first['address'] = address.replace(/:[0-9a-f]*\//i, ':abcd/');
    }
  }
  return copy;
}

/**
 * Runs the first plugin with a directory as its stdin, so reading stdin
 * fails (EISDIR) while the process starts normally; inside the scene's node,
 * recorded as evidence.
 */
async function runWithUnreadableStdin(ctx: Ctx, scene: PluginScene, request: SceneRequest): Promise<PluginRun> {
  const pluginPath = await scene.node.invoker.findPlugin(String(ctx.subject.list.plugins[0]?.['type']));
  const exec = scene.node.invoker.options.exec ?? {};
  const [command, ...args] = [...(exec.wrapper ?? []), pluginPath];
  const directory = await fs.open(ctx.subject.runDir, 'r');
  const started = performance.now();
  let run: PluginRun;
  try {
    run = await new Promise<PluginRun>((resolve, reject) => {
      const child = spawn(command ?? pluginPath, args, {
        env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...exec.env, ...request.env },
        stdio: [directory.fd, 'pipe', 'pipe'],
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
      // A plugin stuck on its stdin is killed; the run then reports the signal, which judges as a failure without a code.
      const timer = setTimeout(() => child.kill('SIGKILL'), ctx.subject.invocationTimeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (exitCode, signal) => {
        clearTimeout(timer);
        resolve({
          exitCode,
          signal,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
          durationMs: performance.now() - started,
        });
      });
    });
  } finally {
    await directory.close();
  }
  ctx.recordCall({
    target: `${pluginPath} (in ${scene.node.namespace.name}, stdin is the directory ${ctx.subject.runDir})`,
    method: request.env['CNI_COMMAND'] ?? '(no CNI_COMMAND)',
    request: { env: request.env, stdin: '(unreadable: a directory)' },
    response: { exitCode: run.exitCode, signal: run.signal, stdout: run.stdout.slice(0, 4000), stderr: run.stderr.slice(0, 2000) },
    durationMs: Math.round(run.durationMs),
  });
  return run;
}
