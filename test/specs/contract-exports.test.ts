import fs from 'node:fs';
import path from 'node:path';
import protoLoader from '@grpc/proto-loader';
import t from 'tap';
import * as generatedCri from '../../proto/gen/cri/runtime/v1/api.js';
import * as generatedCsi from '../../proto/gen/csi/v1/csi.js';
import * as cri from '../../specs/cri/index.js';
import * as csi from '../../specs/csi/index.js';
import { packageRoot } from '../../specs/registry/index.js';

// Helpers ts-proto emits for its own use, and per-enum JSON converters, are not part of the contract.
const internal = /^(protobufPackage|protobufFileName)$|(FromJSON|ToJSON)$/;

for (const [name, generated, contract] of [
  ['kubeplug/csi', generatedCsi, csi],
  ['kubeplug/cri', generatedCri, cri],
] as const) {
  t.test(`${name} re-exports every generated message, enum, service and client by name`, async (t) => {
    const missing = Object.keys(generated).filter(
      (key) => !internal.test(key) && !Object.prototype.hasOwnProperty.call(contract, key),
    );
    t.same(missing, []);
    t.ok(Object.keys(generated).length > 100, 'the generated module is not empty');
  });
}

t.test('generated service paths agree with a dynamic load of the same contracts by proto-loader', async (t) => {
  const root = path.join(packageRoot(), 'proto');
  const tables = [
    { file: 'csi/v1/csi.proto', pkg: 'csi.v1', services: { Identity: csi.IdentityService, Controller: csi.ControllerService, Node: csi.NodeService, GroupController: csi.GroupControllerService, SnapshotMetadata: csi.SnapshotMetadataService } },
    { file: 'cri/runtime/v1/api.proto', pkg: 'runtime.v1', services: { RuntimeService: cri.RuntimeServiceService, ImageService: cri.ImageServiceService } },
  ];
  for (const table of tables) {
    const loaded = await protoLoader.load(table.file, { includeDirs: [root], keepCase: true });
    for (const [serviceName, definition] of Object.entries(table.services)) {
      const dynamic = loaded[`${table.pkg}.${serviceName}`] as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>;
      t.ok(dynamic, `${table.pkg}.${serviceName} loads dynamically`);
      const dynamicMethods = Object.values(dynamic).map((m) => `${m.path} ${m.requestStream} ${m.responseStream}`).sort();
      const generatedMethods = Object.values(definition as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>)
        .map((m) => `${m.path} ${m.requestStream} ${m.responseStream}`)
        .sort();
      t.same(generatedMethods, dynamicMethods, `${serviceName}: same methods, paths and streaming`);
    }
  }
});

t.test('the package resolves its subpath exports by name, with type declarations', async (t) => {
  for (const [specifier, names] of [
    ['kubeplug/csi', ['IdentityService', 'IdentityClient', 'GetPluginInfoResponse', 'serve', 'checkPluginName']],
    ['kubeplug/cri', ['RuntimeServiceService', 'RuntimeServiceClient', 'ImageServiceClient', 'serve', 'criApiVersion']],
    ['kubeplug/cni', ['cniSpecVersion', 'cniSupportedVersions']],
    ['kubeplug/conformance', ['Suite', 'runSuite', 'requirementResults', 'decideVerdict']],
  ] as const) {
    const module = (await import(specifier)) as Record<string, unknown>;
    for (const name of names) t.ok(name in module, `${specifier} exports ${name}`);
    const manifest = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
      exports: Record<string, { types?: string }>;
    };
    const typesFile = manifest.exports[`./${specifier.split('/')[1]}`]?.types ?? '';
    t.ok(fs.existsSync(path.join(packageRoot(), typesFile)), `${specifier} has type declarations at ${typesFile}`);
  }
});
