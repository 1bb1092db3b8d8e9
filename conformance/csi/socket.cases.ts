import fs from 'node:fs/promises';
import path from 'node:path';
import { socketPathOf } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { advertises, deleteVolume } from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { controllerGetCapabilities, getPluginInfo, nodeGetCapabilities, probe } from './identity-calls.js';
import { createVolumeRequest } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** Declares the unix socket cases (CSI-SOCK). */
export function declareSocketCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-SOCK-001', 'CSI-SOCK-004'],
    title: 'Every endpoint is a unix socket that answers plain gRPC without credentials',
    async run(ctx: Ctx) {
      for (const endpoint of ctx.subject.endpoints) {
        const socketPath = socketPathOf(endpoint.endpoint);
        const stat = await fs.stat(socketPath).catch(() => undefined);
        ctx.check(stat?.isSocket() === true, {
          ids: ['CSI-SOCK-001'],
          what: `${socketPath} (the ${endpoint.role} endpoint) is a unix domain socket`,
          expected: 'a socket',
          got: stat === undefined ? 'nothing there' : stat.isSocket() ? 'a socket' : `mode ${stat.mode.toString(8)}`,
        });
        // The suite's clients use insecure channel credentials and send no metadata: exactly a CO on a unix socket.
        const answer = await probe(ctx, endpoint);
        ctx.check(answer.ok, {
          ids: ['CSI-SOCK-001', 'CSI-SOCK-004'],
          what: `Probe over plaintext gRPC without credentials succeeds at the ${endpoint.role} endpoint`,
          expected: 'OK',
          got: describeOutcome(answer),
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-SOCK-003'],
    title: 'Each socket serves Identity, the controller socket the Controller service, the node socket the Node service',
    async run(ctx: Ctx) {
      for (const endpoint of ctx.subject.endpoints) {
        const info = await getPluginInfo(ctx, endpoint);
        ctx.check(info.ok, { what: `the ${endpoint.role} socket serves Identity (GetPluginInfo)`, expected: 'OK', got: describeOutcome(info) });
      }
      if (advertises(ctx, 'plugin.service.CONTROLLER_SERVICE')) {
        const controller = await controllerGetCapabilities(ctx, ctx.subject.controllerEndpoint);
        ctx.check(controller.ok, {
          what: 'the controller socket serves the Controller service (ControllerGetCapabilities)',
          expected: 'OK',
          got: describeOutcome(controller),
        });
      }
      const node = await nodeGetCapabilities(ctx, ctx.subject.nodeEndpoint);
      ctx.check(node.ok, { what: 'the node socket serves the Node service (NodeGetCapabilities)', expected: 'OK', got: describeOutcome(node) });
    },
  });

  suite.declare({
    ids: ['CSI-SOCK-005'],
    title: 'The plugin creates no file or folder next to its socket while it works',
    async run(ctx: Ctx) {
      const folders = [...new Set(ctx.subject.endpoints.map((endpoint) => path.dirname(socketPathOf(endpoint.endpoint))))];
      const before = await Promise.all(folders.map(listFolder));
      // Some work for the plugin to do: a volume made and removed when it can, else a round of capability calls.
      if (advertises(ctx, 'controller.CREATE_DELETE_VOLUME')) {
        const created = await callController(ctx, 'createVolume', createVolumeRequest(ctx));
        if (created.ok && created.response.volume !== undefined) await deleteVolume(ctx, created.response.volume.volumeId);
      }
      for (const endpoint of ctx.subject.endpoints) await nodeGetCapabilities(ctx, endpoint);
      const after = await Promise.all(folders.map(listFolder));
      folders.forEach((folder, index) => {
        const added = (after[index] ?? []).filter((name) => !(before[index] ?? []).includes(name));
        ctx.check(added.length === 0, {
          what: `nothing new appeared in ${folder}, the socket's folder`,
          expected: 'no new entry',
          got: added.length === 0 ? 'no new entry' : added,
        });
      });
    },
  });

  suite.declare({
    ids: ['CSI-SOCK-007'],
    title: 'Other users cannot write to the socket',
    async run(ctx: Ctx) {
      for (const endpoint of ctx.subject.endpoints) {
        const socketPath = socketPathOf(endpoint.endpoint);
        const stat = await fs.stat(socketPath).catch(() => undefined);
        ctx.check(stat !== undefined && (stat.mode & 0o002) === 0, {
          what: `${socketPath} has no write permission for other users`,
          expected: 'mode without o+w (e.g. 0600 or 0660)',
          got: stat === undefined ? 'no socket' : (stat.mode & 0o777).toString(8).padStart(4, '0'),
        });
      }
    },
  });
}

async function listFolder(folder: string): Promise<string[]> {
  return fs.readdir(folder).catch(() => []);
}
