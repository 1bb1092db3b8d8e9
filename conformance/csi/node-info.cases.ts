import { nodeCapabilityName } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, expectStatus } from './expect-status.js';

type Ctx = CaseContext<CsiSubject>;

const nodeIdLimitBytes = 256;
const recommendedNodeIdBytes = 128;
/** How many times NodeGetInfo is read to see that the node ID holds still. */
const nodeInfoReads = 3;

/** Declares the NodeGetCapabilities and NodeGetInfo cases (specs/csi/SPEC.md, CSI-NODE). */
export function declareNodeInfoCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-NODE-001', 'CSI-NODE-002'],
    title: 'NodeGetCapabilities answers with only defined capabilities',
    async run(ctx: Ctx) {
      const answer = await callNode(ctx, 'nodeGetCapabilities', {});
      if (!expectStatus(ctx, answer, 'OK', { ids: ['CSI-NODE-001'], what: 'NodeGetCapabilities succeeds' }) || !answer.ok) return;
      const names = answer.response.capabilities.map(nodeCapabilityName);
      ctx.check(names.every((name) => !/UNSET|UNDEFINED|UNKNOWN/.test(name)), {
        ids: ['CSI-NODE-002'],
        what: 'every node capability sets rpc to a defined type',
        expected: 'STAGE_UNSTAGE_VOLUME | GET_VOLUME_STATS | EXPAND_VOLUME | VOLUME_CONDITION | SINGLE_NODE_MULTI_WRITER | VOLUME_MOUNT_GROUP',
        got: names,
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-003'],
    title: 'A plugin whose controller publishes volumes answers NodeGetInfo',
    needs: { capabilities: ['controller.PUBLISH_UNPUBLISH_VOLUME'] },
    async run(ctx: Ctx) {
      expectStatus(ctx, await callNode(ctx, 'nodeGetInfo', {}), 'OK', { ids: ['CSI-NODE-003'], what: 'NodeGetInfo succeeds' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-004', 'CSI-NODE-005', 'CSI-NODE-006', 'CSI-NODE-007', 'CSI-NODE-008'],
    title: 'NodeGetInfo answers with a stable node ID of allowed size and no negative volume limit',
    async run(ctx: Ctx) {
      const answers: { nodeId: string; maxVolumesPerNode: bigint }[] = [];
      for (let read = 0; read < nodeInfoReads; read += 1) {
        const info = await callNode(ctx, 'nodeGetInfo', {});
        ctx.require(info.ok, { ids: ['CSI-NODE-004'], what: 'NodeGetInfo succeeds', expected: 'OK', got: describeOutcome(info) });
        answers.push(info.response);
      }
      const [first] = answers;
      if (first === undefined) return;
      const bytes = Buffer.byteLength(first.nodeId, 'utf8');
      ctx.check(first.nodeId !== '' && bytes <= nodeIdLimitBytes, {
        ids: ['CSI-NODE-005'],
        what: `node_id is present and at most ${nodeIdLimitBytes} bytes`,
        expected: `1..${nodeIdLimitBytes} bytes`,
        got: `${JSON.stringify(first.nodeId)} (${bytes} bytes)`,
      });
      ctx.check(bytes <= recommendedNodeIdBytes, {
        ids: ['CSI-NODE-006'],
        what: `node_id keeps to the general ${recommendedNodeIdBytes}-byte limit`,
        expected: `<= ${recommendedNodeIdBytes} bytes`,
        got: `${bytes} bytes`,
      });
      ctx.check(new Set(answers.map((answer) => answer.nodeId)).size === 1, {
        ids: ['CSI-NODE-007'],
        what: `${nodeInfoReads} NodeGetInfo calls return the same node_id`,
        expected: first.nodeId,
        got: answers.map((answer) => answer.nodeId),
      });
      ctx.check(answers.every((answer) => answer.maxVolumesPerNode >= 0n), {
        ids: ['CSI-NODE-008'],
        what: 'max_volumes_per_node is not negative',
        expected: '>= 0',
        got: answers.map((answer) => answer.maxVolumesPerNode.toString()),
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-009'],
    title: 'NodeGetInfo reports a topology only when the plugin advertises VOLUME_ACCESSIBILITY_CONSTRAINTS',
    async run(ctx: Ctx) {
      const info = await callNode(ctx, 'nodeGetInfo', {});
      if (!info.ok) {
        ctx.notApplicable(`NodeGetInfo is not answered (${info.error.code}); CSI-NODE-003/004 judge that`);
      }
      const topology = info.response.accessibleTopology;
      const advertised = ctx.subject.capabilities.has('plugin.service.VOLUME_ACCESSIBILITY_CONSTRAINTS');
      ctx.check(topology === undefined || advertised, {
        what: 'an accessible_topology comes with the VOLUME_ACCESSIBILITY_CONSTRAINTS plugin capability',
        expected: 'no topology, or the capability advertised',
        got: { accessibleTopology: topology ?? null, advertised },
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-010'],
    title: 'A plugin with VOLUME_ACCESSIBILITY_CONSTRAINTS reports where the node is',
    needs: { capabilities: ['plugin.service.VOLUME_ACCESSIBILITY_CONSTRAINTS'] },
    async run(ctx: Ctx) {
      const info = await callNode(ctx, 'nodeGetInfo', {});
      ctx.require(info.ok, { ids: ['CSI-NODE-004'], what: 'NodeGetInfo succeeds', expected: 'OK', got: describeOutcome(info) });
      const segments = info.response.accessibleTopology?.segments ?? {};
      ctx.check(Object.keys(segments).length > 0, {
        what: 'NodeGetInfo carries accessible_topology with at least one segment',
        expected: 'a topology such as {"topology.kubeplug.io/node": "…"}',
        got: info.response.accessibleTopology ?? null,
      });
    },
  });
}
