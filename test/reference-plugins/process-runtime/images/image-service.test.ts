import path from 'node:path';
import t from 'tap';
import {
  callUnary,
  createClient,
  GrpcStatusError,
  ImageServiceClient,
  serve,
  waitForConnection,
  type ImageSpec,
} from '../../../../specs/cri/index.js';
import type { TestImageSet } from '../../../../conformance/cri/test-images/index.js';
import { imageServiceBinding } from '../../../../reference-plugins/process-runtime/images/image-service.js';
import { openTestStore, skipWithoutRegistry, startRegistryWithImages, tempDir } from './image-fixture.js';

const spec = (image: string): ImageSpec => ({ image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' });

if (skipWithoutRegistry !== false) {
  t.plan(0, skipWithoutRegistry);
} else {
  let shared: TestImageSet | undefined;
  let client: ImageServiceClient | undefined;
  const internalErrors: unknown[] = [];
  t.before(async () => {
    shared = (await startRegistryWithImages(t)).images;
    const { store } = await openTestStore(t);
    const endpoint = `unix://${path.join(tempDir(t, 'socket'), 'cri.sock')}`;
    const server = await serve({ endpoint, services: [imageServiceBinding(store, { onInternalError: (_, error) => internalErrors.push(error) })] });
    t.teardown(() => server.close());
    client = createClient(ImageServiceClient, endpoint);
    t.teardown(() => client!.close());
    await waitForConnection(client, endpoint, 5000);
  });
  const images = (): TestImageSet['images'] => shared!.images;
  const c = (): ImageServiceClient => client!;
  const codeOf = async (call: Promise<unknown>): Promise<string> => {
    try {
      await call;
      return 'OK';
    } catch (error) {
      return error instanceof GrpcStatusError ? error.code : String(error);
    }
  };

  t.test('PullImage answers the image id as image_ref; ImageStatus and ListImages then report the image', async (t) => {
    const busybox = images().busybox;
    const { imageRef } = await callUnary(c(), c().pullImage, { image: spec(busybox.reference), auth: undefined, sandboxConfig: undefined });
    t.equal(imageRef, busybox.id);
    const status = await callUnary(c(), c().imageStatus, { image: spec(busybox.reference), verbose: false });
    t.match(status.image, { id: busybox.id, repoTags: [busybox.reference], repoDigests: [`${busybox.repository}@${busybox.manifestDigest}`], pinned: false, username: '' });
    t.ok(status.image!.size > 0n);
    t.equal(status.image!.uid, undefined, 'no User in the config: no uid');
    t.equal(status.image!.spec?.image, busybox.id);
    t.same(status.info, {});
    const listed = await callUnary(c(), c().listImages, { filter: undefined });
    t.ok(listed.images.some((image) => image.id === busybox.id));
    const filtered = await callUnary(c(), c().listImages, { filter: { image: spec(busybox.digestReference) } });
    t.same(filtered.images.map((image) => image.id), [busybox.id], 'filter by reference');
    const none = await callUnary(c(), c().listImages, { filter: { image: spec(`${busybox.repository}:absent`) } });
    t.same(none.images, []);
  });

  t.test('ImageStatus verbose carries the image config; a missing image is an empty answer, not an error', async (t) => {
    await callUnary(c(), c().pullImage, { image: spec(images().workdir.reference), auth: undefined, sandboxConfig: undefined });
    const status = await callUnary(c(), c().imageStatus, { image: spec(images().workdir.reference), verbose: true });
    const info = JSON.parse(status.info.info ?? '{}') as { imageSpec?: { config?: { WorkingDir?: string } } };
    t.equal(info.imageSpec?.config?.WorkingDir, '/srv/work');
    const missing = await callUnary(c(), c().imageStatus, { image: spec(`${images().workdir.repository}:absent`), verbose: true });
    t.equal(missing.image, undefined);
    t.same(missing.info, {});
  });

  t.test('uid comes from a numeric config User, username from a named one', async (t) => {
    for (const key of ['user', 'numericUser'] as const) {
      await callUnary(c(), c().pullImage, { image: spec(images()[key].reference), auth: undefined, sandboxConfig: undefined });
    }
    const named = await callUnary(c(), c().imageStatus, { image: spec(images().user.reference), verbose: false });
    t.equal(named.image?.username, 'kubeplug');
    t.equal(named.image?.uid, undefined);
    const numeric = await callUnary(c(), c().imageStatus, { image: spec(images().numericUser.reference), verbose: false });
    t.same(numeric.image?.uid, { value: 1000n });
    t.equal(numeric.image?.username, '');
  });

  t.test('RemoveImage removes by id and answers OK when the image is already gone', async (t) => {
    const { imageRef } = await callUnary(c(), c().pullImage, { image: spec(images().busyboxAlt.reference), auth: undefined, sandboxConfig: undefined });
    await callUnary(c(), c().removeImage, { image: spec(imageRef) });
    const status = await callUnary(c(), c().imageStatus, { image: spec(imageRef), verbose: false });
    t.equal(status.image, undefined);
    t.equal(await codeOf(callUnary(c(), c().removeImage, { image: spec(imageRef) })), 'OK');
    t.equal(await codeOf(callUnary(c(), c().removeImage, { image: spec(`${images().busyboxAlt.repository}:never`) })), 'OK');
  });

  t.test('ImageFsInfo reports the store folder with a timestamp in ns, bytes and inodes', async (t) => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const { imageFilesystems } = await callUnary(c(), c().imageFsInfo, {});
    t.equal(imageFilesystems.length, 1);
    const usage = imageFilesystems[0]!;
    t.ok(usage.timestamp >= before && usage.timestamp < before + 60_000_000_000n, 'timestamp is now, in ns');
    t.match(usage.fsId?.mountpoint, /images$/);
    t.ok((usage.usedBytes?.value ?? 0n) > 0n);
    t.ok((usage.inodesUsed?.value ?? 0n) > 0n);
  });

  const wrongRequests: readonly [string, () => Promise<unknown>, string][] = [
    ['PullImage with no image', () => callUnary(c(), c().pullImage, { image: undefined, auth: undefined, sandboxConfig: undefined }), 'INVALID_ARGUMENT'],
    ['PullImage with an empty image', () => callUnary(c(), c().pullImage, { image: spec(''), auth: undefined, sandboxConfig: undefined }), 'INVALID_ARGUMENT'],
    ['PullImage with an invalid reference', () => callUnary(c(), c().pullImage, { image: spec('Busybox'), auth: undefined, sandboxConfig: undefined }), 'INVALID_ARGUMENT'],
    ['PullImage of a tag the registry lacks', () => callUnary(c(), c().pullImage, { image: spec(`${images().busybox.repository}:absent`), auth: undefined, sandboxConfig: undefined }), 'NOT_FOUND'],
    ['PullImage from a registry that is not there', () => callUnary(c(), c().pullImage, { image: spec('127.0.0.1:1/app:1'), auth: undefined, sandboxConfig: undefined }), 'UNAVAILABLE'],
    ['PullImage for a runtime handler the runtime lacks', () => callUnary(c(), c().pullImage, { image: { ...spec(images().busybox.reference), runtimeHandler: 'no-such-handler' }, auth: undefined, sandboxConfig: undefined }), 'INVALID_ARGUMENT'],
    ['ImageStatus with an empty image', () => callUnary(c(), c().imageStatus, { image: spec(''), verbose: false }), 'INVALID_ARGUMENT'],
    ['ImageStatus with an invalid reference', () => callUnary(c(), c().imageStatus, { image: spec('bad ref'), verbose: false }), 'INVALID_ARGUMENT'],
    ['RemoveImage with an empty image', () => callUnary(c(), c().removeImage, { image: undefined }), 'INVALID_ARGUMENT'],
  ];
  for (const [what, call, code] of wrongRequests) {
    t.test(`${what} answers ${code}`, async (t) => {
      t.equal(await codeOf(call()), code);
    });
  }

  t.test('StreamImages streams what ListImages lists', async (t) => {
    await callUnary(c(), c().pullImage, { image: spec(images().busybox.reference), auth: undefined, sandboxConfig: undefined });
    const listed = await callUnary(c(), c().listImages, { filter: undefined });
    const streamed = await new Promise<string[]>((resolve, reject) => {
      const ids: string[] = [];
      const call = c().streamImages({ filter: undefined });
      call.on('data', (batch: { images: { id: string }[] }) => ids.push(...batch.images.map((image) => image.id)));
      call.on('error', reject);
      call.on('end', () => resolve(ids));
    });
    t.same(streamed.sort(), listed.images.map((image) => image.id).sort());
  });

  t.test('no error reached the gRPC boundary untyped', async (t) => {
    t.same(internalErrors, []);
  });

  t.test('an error message names the field', async (t) => {
    const error = await callUnary(c(), c().pullImage, { image: spec(''), auth: undefined, sandboxConfig: undefined }).catch((e: unknown) => e);
    t.match(error, { message: /image\.image is empty/ });
  });
}
