import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import {
  bindService,
  ControllerService,
  ControllerServiceCapability_RPC_Type as ControllerRpc,
  GrpcStatusError,
  IdentityService,
  NodeService,
  NodeServiceCapability_RPC_Type as NodeRpc,
  serve,
  VolumeCapability_AccessMode_Mode,
  type ServiceBinding,
} from '../../../specs/csi/index.js';
import type { Pod } from '../../../kubelet/api/pod-types.js';
import { closeCsiClients, connectCsiDriver, parseCsiEndpointFlag } from '../../../kubelet/volumes/csi-clients.js';
import { csiInlineHandle, parseQuantityBytes } from '../../../kubelet/volumes/csi-volume.js';
import { PodVolumes } from '../../../kubelet/volumes/pod-volumes.js';
import { tempDir } from '../../helpers/temp-dir.js';

// An in-process CSI driver that records each call with the fields that
// matter, so the kubelet's order and arguments are checked without mounts;
// the real dir-volume driver runs in the kubelet node test.

interface Call {
  readonly method: string;
  readonly fields: Record<string, unknown>;
}

function fakeDriver(options: { controller: ControllerRpc[]; node: NodeRpc[] }, calls: Call[]): ServiceBinding[] {
  const record = (method: string, fields: Record<string, unknown> = {}): void => {
    calls.push({ method, fields });
  };
  return [
    bindService(IdentityService, {
      async getPluginInfo() {
        return { name: 'fake.csi.kubeplug.dev', vendorVersion: '1', manifest: {} };
      },
    }),
    bindService(ControllerService, {
      async controllerGetCapabilities() {
        if (options.controller.length === 0) throw new GrpcStatusError({ code: 'UNIMPLEMENTED', message: 'no controller' });
        return { capabilities: options.controller.map((type) => ({ type: { $case: 'rpc' as const, value: { type } } })) };
      },
      async createVolume(request) {
        record('CreateVolume', { name: request.name, parameters: request.parameters, requiredBytes: request.capacityRange?.requiredBytes, mode: request.volumeCapabilities[0]?.accessMode?.mode });
        return { volume: { volumeId: `vol-${request.name}`, capacityBytes: 0n, volumeContext: { fromCreate: 'yes' }, accessibleTopology: [] } };
      },
      async controllerPublishVolume(request) {
        record('ControllerPublishVolume', { volumeId: request.volumeId, nodeId: request.nodeId });
        return { publishContext: { device: '/dev/fake' } };
      },
      async controllerUnpublishVolume(request) {
        record('ControllerUnpublishVolume', { volumeId: request.volumeId, nodeId: request.nodeId });
        return {};
      },
      async deleteVolume(request) {
        record('DeleteVolume', { volumeId: request.volumeId });
        return {};
      },
    }),
    bindService(NodeService, {
      async nodeGetCapabilities() {
        return { capabilities: options.node.map((type) => ({ type: { $case: 'rpc' as const, value: { type } } })) };
      },
      async nodeGetInfo() {
        return { nodeId: 'node-7', maxVolumesPerNode: 0n };
      },
      async nodeStageVolume(request) {
        record('NodeStageVolume', { volumeId: request.volumeId, staging: request.stagingTargetPath, publishContext: request.publishContext });
        return {};
      },
      async nodeUnstageVolume(request) {
        record('NodeUnstageVolume', { volumeId: request.volumeId, staging: request.stagingTargetPath });
        return {};
      },
      async nodePublishVolume(request) {
        record('NodePublishVolume', {
          volumeId: request.volumeId,
          target: request.targetPath,
          staging: request.stagingTargetPath,
          context: request.volumeContext,
          mode: request.volumeCapability?.accessMode?.mode,
          readonly: request.readonly,
        });
        fs.mkdirSync(request.targetPath, { recursive: true });
        fs.writeFileSync(path.join(request.targetPath, 'published'), request.volumeId);
        return {};
      },
      async nodeUnpublishVolume(request) {
        record('NodeUnpublishVolume', { volumeId: request.volumeId, target: request.targetPath });
        fs.rmSync(request.targetPath, { recursive: true, force: true });
        return {};
      },
    }),
  ];
}

async function startDriver(t: Test, options: { controller: ControllerRpc[]; node: NodeRpc[] }) {
  const dir = tempDir(t, 'kp-csi-');
  const calls: Call[] = [];
  const endpoint = `unix://${path.join(dir, 'csi.sock')}`;
  const server = await serve({ endpoint, services: fakeDriver(options, calls) });
  t.teardown(() => server.close());
  const clients = connectCsiDriver(endpoint);
  t.teardown(() => closeCsiClients(clients));
  return { calls, clients };
}

const pod: Pod = {
  metadata: { name: 'web', namespace: 'team', uid: 'uid-42' },
  spec: { containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 'data', csi: { driver: 'fake.csi', volumeAttributes: { size: '64Mi', flavour: 'plain' } } }] },
};

t.test('a provisioning driver gets CreateVolume, ControllerPublish, NodeStage, NodePublish in order, then the reverse after a kubelet restart', async (t) => {
  const root = tempDir(t, 'kp-root-');
  const { calls, clients } = await startDriver(t, {
    controller: [ControllerRpc.CREATE_DELETE_VOLUME, ControllerRpc.PUBLISH_UNPUBLISH_VOLUME],
    node: [NodeRpc.STAGE_UNSTAGE_VOLUME, NodeRpc.SINGLE_NODE_MULTI_WRITER],
  });
  const volumes = new PodVolumes({ rootDir: root, csi: new Map([['fake.csi', clients]]) });
  const paths = await volumes.setUp(pod);
  const target = path.join(root, 'pods', 'uid-42', 'volumes', 'kubernetes.io~csi', 'data', 'mount');
  t.equal(paths.get('data'), target, 'the target is under the pod folder');
  t.same(
    calls.map((call) => call.method),
    ['CreateVolume', 'ControllerPublishVolume', 'NodeStageVolume', 'NodePublishVolume'],
  );
  const [create, publish, stage, nodePublish] = calls;
  t.match(create?.fields, { parameters: { size: '64Mi', flavour: 'plain' }, requiredBytes: 64n * 1024n * 1024n, mode: VolumeCapability_AccessMode_Mode.SINGLE_NODE_MULTI_WRITER });
  t.match(create?.fields['name'], /^kubeplug-[0-9a-f]{40}$/);
  const volumeId = `vol-${String(create?.fields['name'])}`;
  t.same(publish?.fields, { volumeId, nodeId: 'node-7' }, 'ControllerPublish names the node from NodeGetInfo');
  t.match(stage?.fields, { volumeId, publishContext: { device: '/dev/fake' } });
  t.match(String(stage?.fields['staging']), new RegExp(`^${root}/plugins/kubernetes.io/csi/fake.csi/[0-9a-f]{64}/globalmount$`));
  t.match(nodePublish?.fields, {
    volumeId,
    target,
    staging: stage?.fields['staging'],
    mode: VolumeCapability_AccessMode_Mode.SINGLE_NODE_MULTI_WRITER,
    readonly: false,
    context: {
      'csi.storage.k8s.io/pod.name': 'web',
      'csi.storage.k8s.io/pod.namespace': 'team',
      'csi.storage.k8s.io/pod.uid': 'uid-42',
      'csi.storage.k8s.io/ephemeral': 'true',
      flavour: 'plain',
      fromCreate: 'yes',
    },
  });
  const record = JSON.parse(fs.readFileSync(path.join(root, 'pods', 'uid-42', 'volumes', 'kubernetes.io~csi', 'data', 'vol_data.json'), 'utf8')) as Record<string, unknown>;
  t.match(record, { volumeId, created: true, controllerPublished: true, staged: true, published: true, driver: 'fake.csi' }, 'vol_data.json records every step');

  await volumes.setUp(pod);
  t.equal(calls.length, 4, 'a second set-up calls nothing');

  calls.length = 0;
  const restarted = new PodVolumes({ rootDir: root, csi: new Map([['fake.csi', clients]]) });
  await restarted.tearDown('uid-42');
  t.same(
    calls.map((call) => call.method),
    ['NodeUnpublishVolume', 'NodeUnstageVolume', 'ControllerUnpublishVolume', 'DeleteVolume'],
    'a restarted kubelet undoes it in reverse from the files alone',
  );
  t.same(calls[0]?.fields, { volumeId, target });
  t.same(calls[2]?.fields, { volumeId, nodeId: 'node-7' });
  t.notOk(fs.existsSync(path.join(root, 'pods', 'uid-42')), 'the pod folder is gone');
  t.same(fs.readdirSync(path.join(root, 'plugins', 'kubernetes.io', 'csi', 'fake.csi')), [], 'the staging folder is gone');
});

t.test('a node-only driver gets NodePublish alone with an inline handle and single-node-writer access', async (t) => {
  const root = tempDir(t, 'kp-root-');
  const { calls, clients } = await startDriver(t, { controller: [], node: [] });
  const volumes = new PodVolumes({ rootDir: root, csi: new Map([['fake.csi', clients]]) });
  await volumes.setUp(pod);
  t.same(calls.map((call) => call.method), ['NodePublishVolume']);
  t.match(calls[0]?.fields, { volumeId: csiInlineHandle('uid-42', 'data'), staging: '', mode: VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER });
  t.match(csiInlineHandle('uid-42', 'data'), /^csi-[0-9a-f]{64}$/);
  await volumes.tearDown('uid-42');
  t.same(calls.map((call) => call.method), ['NodePublishVolume', 'NodeUnpublishVolume']);
});

t.test('a driver that is not registered keeps the record so teardown can be retried', async (t) => {
  const root = tempDir(t, 'kp-root-');
  const { clients } = await startDriver(t, { controller: [], node: [] });
  await new PodVolumes({ rootDir: root, csi: new Map([['fake.csi', clients]]) }).setUp(pod);
  const without = new PodVolumes({ rootDir: root, csi: new Map() });
  await t.rejects(without.tearDown('uid-42'), { name: 'VolumeError', volume: 'data' });
  t.ok(fs.existsSync(path.join(root, 'pods', 'uid-42', 'volumes', 'kubernetes.io~csi', 'data', 'vol_data.json')), 'the record is still there');
});

t.test('--csi-endpoint values and quantities parse', async (t) => {
  t.same(parseCsiEndpointFlag('dir.csi.kubeplug.dev=unix:///run/csi.sock'), { driver: 'dir.csi.kubeplug.dev', endpoint: 'unix:///run/csi.sock' });
  t.throws(() => parseCsiEndpointFlag('unix:///run/csi.sock'), /NAME=unix/);
  t.throws(() => parseCsiEndpointFlag('x=/run/csi.sock'), /NAME=unix/);
  t.same(['1Gi', '10M', '512', '1k', 'lots', '1.5Gi'].map(parseQuantityBytes), [1024n ** 3n, 10_000_000n, 512n, 1000n, undefined, undefined]);
});
