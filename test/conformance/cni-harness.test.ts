/**
 * The conformance harness is a CNI runtime too: these tests hold it to the
 * runtime rules it must keep while it drives a plugin under test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { addPod, caseNode, caseNamespace, networkCopy, podRuntime } from '../../conformance/cni/cni-harness.js';
import type { CniSubject } from '../../conformance/cni/cni-subject.js';
import { listKubeplugNamespaces } from '../../conformance/cni/network-namespaces.js';
import { Suite, compileFilter, probeEnvironment, runSuite, type CaseContext } from '../../conformance/framework/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const recorder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'recording-plugin.mjs');
const isRoot = process.getuid?.() === 0;

t.test('the harness creates the namespace first, runs plugins inside the node namespace, DELs even a failed ADD and removes the namespaces, naming the pod namespace in CNI_NETNS (CNI-PROTO-008 CNI-RT-001 CNI-RT-002 CNI-RT-005 CNI-RT-006 CNI-RT-010)', { skip: isRoot ? false : 'needs root for network namespaces' }, async (t) => {
  const dir = tempDir(t);
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(recorder, path.join(bin, 'rec-a'));
  // A second tiny plugin that records which network namespace it ran in.
  fs.writeFileSync(path.join(bin, 'where'), `#!/bin/sh\nreadlink /proc/self/ns/net >> ${dir}/where.log\ncat >/dev/null\nif [ "$CNI_COMMAND" = ADD ]; then echo '{"cniVersion":"1.0.0","code":104,"msg":"no"}'; exit 1; fi\n`);
  fs.chmodSync(path.join(bin, 'where'), 0o755);
  const log = path.join(dir, 'log.jsonl');
  const subject: CniSubject = {
    capabilities: new Set(),
    identity: {},
    cniPath: [bin],
    list: { cniVersion: '1.0.0', name: 'kp-harness', plugins: [{ type: 'rec-a', marker: 'a', recordTo: log }, { type: 'where' }] },
    version: '1.0.0',
    supportedVersions: ['1.0.0'],
    runDir: dir,
    invocationTimeoutMs: 10_000,
    close: () => {},
  };
  let namespaces: { node: string; pod: string; podPath: string } | undefined;
  let netnsSeenByPodBeforeAdd = false;
  const suite = new Suite<CniSubject>('cni');
  suite.declare({
    ids: ['CNI-RT-006'],
    title: 'adds a pod whose ADD fails',
    async run(ctx: CaseContext<CniSubject>) {
      const node = await caseNode(ctx);
      const pod = await caseNamespace(ctx, 'pod');
      netnsSeenByPodBeforeAdd = fs.existsSync(pod.path);
      namespaces = { node: (await node.namespace.exec('readlink', ['/proc/self/ns/net'])).stdout.trim(), pod: pod.name, podPath: pod.path };
      await addPod(ctx, node, networkCopy(ctx), podRuntime(ctx, pod)).catch(() => undefined);
    },
  });
  await runSuite({ suite, subject, environment: await probeEnvironment(), filter: compileFilter({}) });
  const records = fs.readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { verb: string; env: Record<string, string> });
  t.equal(records[0]?.env['CNI_NETNS'], namespaces?.podPath, 'CNI_NETNS is the pod namespace path');
  t.ok(netnsSeenByPodBeforeAdd, 'the pod namespace exists before ADD');
  t.same(records.map((r) => r.verb), ['ADD', 'DEL'], 'the failed ADD is followed by DEL');
  const where = fs.readFileSync(path.join(dir, 'where.log'), 'utf8').trim().split('\n');
  t.ok(where.length >= 2 && where.every((ns) => ns === namespaces?.node), 'every plugin ran in the node namespace');
  t.notOk(listKubeplugNamespaces().includes(namespaces?.pod ?? ''), 'the namespaces are gone after the case');
});
