import t from 'tap';
import { bridgeConf, callPlugin, createNamespace, createNode, missingPrerequisites } from './fixtures/bridge-harness.js';
import type { PluginRun } from '../../../specs/cni/index.js';

/**
 * Subprocesses dominate the plugin's latency, so their number per verb is a
 * budget: the trace (KUBEPLUG_BRIDGE_TRACE=1) counts every process the
 * plugin starts, the IPAM plugin included.
 */
const skip = missingPrerequisites() ?? false;
const trace = { KUBEPLUG_BRIDGE_TRACE: '1' };

const subprocesses = (run: PluginRun): number => Number(/kubeplug-bridge: (\d+) subprocesses/.exec(run.stderr)?.[1] ?? Number.NaN);

const budgets = [
  { title: 'a gateway network', extra: {}, add: 5, check: 3, del: 2 },
  { title: 'a gateway network with ipMasq', extra: { ipMasq: true }, add: 7, check: 3, del: 4 },
];

for (const budget of budgets) {
  t.test(`ADD, CHECK and DEL of ${budget.title} stay within ${budget.add}, ${budget.check} and ${budget.del} subprocesses`, { skip }, async (t) => {
    const node = await createNode(t);
    const container = await createNamespace(t, 'pod');
    const conf = bridgeConf(node, { extra: budget.extra });
    const add = await callPlugin(node, { verb: 'ADD', conf, netns: container.path, env: trace });
    t.comment(add.run.stderr.trim());
    t.ok(subprocesses(add.run) <= budget.add, `ADD ran ${subprocesses(add.run)}`);
    const check = await callPlugin(node, { verb: 'CHECK', conf: { ...conf, prevResult: add.result }, netns: container.path, env: trace });
    t.ok(subprocesses(check.run) <= budget.check, `CHECK ran ${subprocesses(check.run)}`);
    const del = await callPlugin(node, { verb: 'DEL', conf, netns: container.path, env: trace });
    t.comment(del.run.stderr.trim());
    t.ok(subprocesses(del.run) <= budget.del, `DEL ran ${subprocesses(del.run)}`);
  });
}
