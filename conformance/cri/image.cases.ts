import { randomBytes } from 'node:crypto';
import type { Image } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callImage, callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, expectStatus, requireOk } from './expect-status.js';
import { imageFingerprint, imageStatus, listImages, pullImageOutcome, pushCaseImage, removeImage, type PushedImage } from './image-pushes.js';
import { containerConfig, createContainerWith, execSync, runTestPod, sleepForever } from './pod-fixtures.js';
import { buildImageIndex, buildTestImage, foreignPlatform, markerPath, pushImageIndex } from './test-images/index.js';

type Ctx = CaseContext<CriSubject>;

/** Slack for clock rounding between the suite's clock and the runtime's timestamps. */
const clockSlackNs = 1_000_000_000n;

/** Pulls `reference` and stops the case (citing `ids`) unless it succeeds; returns the image_ref. */
async function pull(ctx: Ctx, reference: string, ids?: readonly string[]): Promise<string> {
  const pulled = await pullImageOutcome(ctx, reference);
  requireOk(ctx, pulled, { ...(ids === undefined ? {} : { ids }), what: `PullImage ${reference} succeeds` });
  return pulled.response.imageRef;
}

/** ImageStatus of `reference`; stops the case unless the call succeeds; the image or undefined. */
async function statusOf(ctx: Ctx, reference: string, ids?: readonly string[]): Promise<Image | undefined> {
  const answer = await imageStatus(ctx, reference);
  requireOk(ctx, answer, { ...(ids === undefined ? {} : { ids }), what: `ImageStatus ${reference} succeeds` });
  return answer.response.image;
}

/** The IDs ListImages reports; stops the case unless the call succeeds. */
async function listedImages(ctx: Ctx, filterImage?: string): Promise<Image[]> {
  const answer = await listImages(ctx, filterImage);
  requireOk(ctx, answer, { what: `ListImages${filterImage === undefined ? '' : ` filtered by ${filterImage}`} succeeds` });
  return answer.response.images;
}

/** Checks that after a removal the image is gone from ImageStatus (under every name) and ListImages. */
async function checkGone(ctx: Ctx, pushed: PushedImage, id: string, ids: readonly string[], how: string): Promise<void> {
  const names = [...pushed.tagged, id];
  for (const name of names) {
    const answer = await imageStatus(ctx, name);
    ctx.check(answer.ok && answer.response.image === undefined, {
      ids,
      what: `after RemoveImage ${how}, ImageStatus ${name} answers with no image`,
      expected: 'OK, image unset',
      got: answer.ok ? (answer.response.image === undefined ? 'image unset' : `image ${answer.response.image.id}`) : describeOutcome(answer),
    });
  }
  const listed = await listedImages(ctx);
  ctx.check(!listed.some((image) => image.id === id), { ids, what: `after RemoveImage ${how}, ListImages no longer lists ${id}`, expected: 'not listed', got: listed.map((image) => image.id) });
}

/** Declares the image service cases (specs/cri/SPEC.md, CRI-IMAGE), registry authentication aside. */
export function declareImageCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-IMAGE-001', 'CRI-IMAGE-002', 'CRI-IMAGE-007', 'CRI-IMAGE-009', 'CRI-IMAGE-010', 'CRI-IMAGE-012', 'CRI-IMAGE-014'],
    title: 'An image pulled by tag is known by one ID everywhere, with its tag, its digest and a positive size',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const [tag = ''] = pushed.tagged;
      const imageRef = await pull(ctx, tag, ['CRI-IMAGE-001']);
      ctx.check(imageRef !== '', { ids: ['CRI-IMAGE-001'], what: 'PullImage returns a non-empty image_ref', expected: 'non-empty', got: imageRef });
      const status = await statusOf(ctx, tag);
      ctx.require(status !== undefined, { ids: ['CRI-IMAGE-001'], what: 'ImageStatus of the pulled tag returns the image', expected: 'an image', got: 'image unset' });
      ctx.check(status.id === imageRef, { ids: ['CRI-IMAGE-002'], what: 'Image.id in ImageStatus equals the pulled image_ref', expected: imageRef, got: status.id });
      ctx.check(status.repoTags.includes(tag), { ids: ['CRI-IMAGE-009'], what: 'repo_tags include the pulled tag, fully qualified', expected: tag, got: status.repoTags });
      ctx.check(status.repoDigests.includes(pushed.byDigest), {
        ids: ['CRI-IMAGE-010'],
        what: 'repo_digests include repository@<manifest digest>',
        expected: pushed.byDigest,
        got: status.repoDigests,
      });
      ctx.check(status.size > 0n, { ids: ['CRI-IMAGE-012'], what: 'Image.size in ImageStatus is positive', expected: '> 0', got: status.size.toString() });
      const listed = await listedImages(ctx);
      // Listing and size are judged by the image's own ID; whether that ID is the pulled image_ref is CRI-IMAGE-002's alone.
      const entry = listed.find((image) => image.id === status.id);
      ctx.check(entry !== undefined, { ids: ['CRI-IMAGE-014'], what: 'ListImages lists the image under its ID', expected: status.id, got: listed.map((image) => image.id) });
      ctx.check(listed.some((image) => image.id === imageRef), { ids: ['CRI-IMAGE-002'], what: 'ListImages lists the image under the pulled image_ref', expected: imageRef, got: listed.map((image) => image.id) });
      ctx.check(entry !== undefined && entry.size > 0n, { ids: ['CRI-IMAGE-012'], what: 'Image.size in ListImages is positive', expected: '> 0', got: entry?.size.toString() ?? 'not listed' });
      const names = [status.id, ...status.repoTags, ...status.repoDigests];
      for (const name of names) {
        const again = await statusOf(ctx, name, ['CRI-IMAGE-007']);
        ctx.check(imageFingerprint(again) === imageFingerprint(status), {
          ids: ['CRI-IMAGE-007'],
          what: `ImageStatus by ${name} returns the same image`,
          expected: imageFingerprint(status),
          got: imageFingerprint(again),
        });
      }
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-008'],
    title: 'A reference without a tag pulls the latest tag',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx, { tags: ['latest'] });
      await pull(ctx, pushed.repository);
      const status = await statusOf(ctx, pushed.repository);
      ctx.check(status !== undefined && status.repoTags.includes(`${pushed.repository}:latest`), {
        what: 'the image pulled without a tag carries repository:latest among its repo_tags',
        expected: `${pushed.repository}:latest`,
        got: status?.repoTags ?? 'image unset',
      });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-003', 'CRI-IMAGE-011'],
    title: 'An image pulled by digest carries no tag and has the same reference as when pulled by tag',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const byDigest = await pull(ctx, pushed.byDigest);
      const status = await statusOf(ctx, pushed.byDigest);
      ctx.check(status !== undefined && status.repoTags.length === 0, {
        ids: ['CRI-IMAGE-011'],
        what: 'an image pulled only by digest has no repo_tags',
        expected: [],
        got: status?.repoTags ?? 'image unset',
      });
      ctx.check(status !== undefined && status.repoDigests.includes(pushed.byDigest), {
        ids: ['CRI-IMAGE-011'],
        what: 'its repo_digests hold the reference pulled',
        expected: pushed.byDigest,
        got: status?.repoDigests ?? 'image unset',
      });
      const byTag = await pull(ctx, pushed.tagged[0] ?? '');
      ctx.check(byTag === byDigest, { ids: ['CRI-IMAGE-003'], what: 'pulling the same image by tag returns the same image_ref as by digest', expected: byDigest, got: byTag });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-023'],
    title: 'Pulling an image already present succeeds with the same reference',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const first = await pull(ctx, pushed.tagged[0] ?? '');
      const second = await pull(ctx, pushed.tagged[0] ?? '');
      ctx.check(second === first, { what: 'the second PullImage returns the same image_ref', expected: first, got: second });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-004', 'CRI-IMAGE-005'],
    title: 'A container created from the pulled reference runs that image and reports it by the same ID',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const imageRef = await pull(ctx, pushed.tagged[0] ?? '', ['CRI-IMAGE-005']);
      const pod = await runTestPod(ctx);
      const config = containerConfig(ctx, pod, { image: imageRef, command: sleepForever });
      const container = await createContainerWith(ctx, pod, config, { ids: ['CRI-IMAGE-005'] });
      const started = await callRuntime(ctx, 'startContainer', { containerId: container.id });
      requireOk(ctx, started, { ids: ['CRI-IMAGE-005'], what: 'StartContainer succeeds' });
      const marker = await execSync(ctx, container.id, ['cat', markerPath], { ids: ['CRI-IMAGE-005'] });
      ctx.check(marker.stdout.trim() === pushed.marker, { ids: ['CRI-IMAGE-005'], what: "the container runs the pulled image (its marker file)", expected: pushed.marker, got: marker.stdout.trim() });
      const status = await callRuntime(ctx, 'containerStatus', { containerId: container.id, verbose: false });
      requireOk(ctx, status, { ids: ['CRI-IMAGE-004'], what: 'ContainerStatus succeeds' });
      ctx.check(status.response.status?.imageId === imageRef, { ids: ['CRI-IMAGE-004'], what: 'ContainerStatus.image_id equals the pulled image_ref', expected: imageRef, got: status.response.status?.imageId ?? 'no status' });
      const listed = await callRuntime(ctx, 'listContainers', { filter: { id: container.id, podSandboxId: '', labelSelector: {} } });
      requireOk(ctx, listed, { ids: ['CRI-IMAGE-004'], what: 'ListContainers succeeds' });
      const entry = listed.response.containers.find((item) => item.id === container.id);
      ctx.check(entry?.imageId === imageRef, { ids: ['CRI-IMAGE-004'], what: 'Container.image_id in ListContainers equals the pulled image_ref', expected: imageRef, got: entry?.imageId ?? 'not listed' });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-006'],
    title: 'ImageStatus of an image the runtime lacks answers with no image',
    async run(ctx: Ctx) {
      const absent = `${ctx.subject.run.registry}/kubeplug-cri-suite/${ctx.uniqueName('kp-absent')}:t1`;
      const answer = await imageStatus(ctx, absent);
      expectStatus(ctx, answer, 'OK', { what: 'ImageStatus of an absent image succeeds' });
      ctx.check(answer.ok && answer.response.image === undefined, {
        what: 'the answer has image unset',
        expected: 'image unset',
        got: answer.ok ? (answer.response.image === undefined ? 'image unset' : imageFingerprint(answer.response.image)) : describeOutcome(answer),
      });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-013'],
    title: "ImageStatus reports the image's user: a numeric user as uid, a named one as username",
    async run(ctx: Ctx) {
      const numeric = await pushCaseImage(ctx, { config: { User: '4321' } });
      const named = await pushCaseImage(ctx, { config: { User: 'kubeplug' } });
      await pull(ctx, numeric.tagged[0] ?? '');
      await pull(ctx, named.tagged[0] ?? '');
      const numericStatus = await statusOf(ctx, numeric.tagged[0] ?? '');
      const namedStatus = await statusOf(ctx, named.tagged[0] ?? '');
      ctx.check(numericStatus?.uid?.value === 4321n, { what: 'an image with User 4321 reports uid 4321', expected: '4321', got: numericStatus?.uid?.value.toString() ?? 'uid unset' });
      ctx.check(namedStatus?.username === 'kubeplug', { what: 'an image with User kubeplug reports username kubeplug', expected: 'kubeplug', got: namedStatus?.username ?? 'image unset' });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-015'],
    title: 'ListImages filtered by a tag or an ID lists that image alone',
    async run(ctx: Ctx) {
      const wanted = await pushCaseImage(ctx);
      const other = await pushCaseImage(ctx);
      const wantedRef = await pull(ctx, wanted.tagged[0] ?? '');
      await pull(ctx, other.tagged[0] ?? '');
      for (const filter of [wanted.tagged[0] ?? '', wantedRef]) {
        const listed = await listedImages(ctx, filter);
        ctx.check(listed.length === 1 && listed[0]?.id === wantedRef, {
          what: `ListImages filtered by ${filter} lists exactly that image`,
          expected: [wantedRef],
          got: listed.map((image) => image.id),
        });
      }
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-016'],
    title: 'RemoveImage by tag removes the image',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const id = await pull(ctx, pushed.tagged[0] ?? '');
      const removed = await removeImage(ctx, pushed.tagged[0] ?? '');
      requireOk(ctx, removed, { what: 'RemoveImage by tag succeeds' });
      await checkGone(ctx, pushed, id, ['CRI-IMAGE-016'], 'by tag');
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-017'],
    title: 'RemoveImage by ID removes the image',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const id = await pull(ctx, pushed.tagged[0] ?? '');
      const removed = await removeImage(ctx, id);
      requireOk(ctx, removed, { what: 'RemoveImage by ID succeeds' });
      await checkGone(ctx, pushed, id, ['CRI-IMAGE-017'], 'by ID');
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-018'],
    title: 'RemoveImage by digest removes the image',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const id = await pull(ctx, pushed.tagged[0] ?? '');
      const removed = await removeImage(ctx, pushed.byDigest);
      requireOk(ctx, removed, { what: 'RemoveImage by repository@digest succeeds' });
      await checkGone(ctx, pushed, id, ['CRI-IMAGE-018'], 'by digest');
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-019'],
    title: 'RemoveImage by one tag removes the image under all its tags, in every repository',
    async run(ctx: Ctx) {
      const first = await pushCaseImage(ctx, { tags: ['t1', 't2'] });
      // The same image (same manifest) pushed to a second repository.
      const second = await pushCaseImage(ctx, { image: first.image });
      const id = await pull(ctx, first.tagged[0] ?? '');
      const again = await pull(ctx, first.tagged[1] ?? '');
      const elsewhere = await pull(ctx, second.tagged[0] ?? '');
      ctx.require(again === id && elsewhere === id, { what: 'the three tags name one image', expected: id, got: [again, elsewhere] });
      const removed = await removeImage(ctx, first.tagged[0] ?? '');
      requireOk(ctx, removed, { what: `RemoveImage ${first.tagged[0] ?? ''} succeeds` });
      await checkGone(ctx, { ...first, tagged: [...first.tagged, ...second.tagged] }, id, ['CRI-IMAGE-019'], 'by one tag');
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-020'],
    title: 'RemoveImage of a removed image and of an unknown ID succeeds',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const id = await pull(ctx, pushed.tagged[0] ?? '');
      requireOk(ctx, await removeImage(ctx, id), { what: 'the first RemoveImage succeeds' });
      expectStatus(ctx, await removeImage(ctx, id), 'OK', { what: 'RemoveImage of the image already removed succeeds' });
      expectStatus(ctx, await removeImage(ctx, pushed.tagged[0] ?? ''), 'OK', { what: 'RemoveImage of its tag, now unknown, succeeds' });
      const unknownHex = '0'.repeat(64);
      expectStatus(ctx, await removeImage(ctx, unknownHex), 'OK', { what: 'RemoveImage of an ID the runtime never had (critest form) succeeds' });
      expectStatus(ctx, await removeImage(ctx, `sha256:${randomBytes(32).toString('hex')}`), 'OK', { what: 'RemoveImage of an unknown sha256: ID succeeds' });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-022'],
    title: 'Pulling a tag the registry lacks fails and leaves no image',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const missing = `${pushed.repository}:no-such-tag`;
      const pulled = await pullImageOutcome(ctx, missing);
      ctx.check(!pulled.ok, { what: 'PullImage of a missing tag fails', expected: 'an error', got: describeOutcome(pulled) });
      const status = await imageStatus(ctx, missing);
      ctx.check(status.ok && status.response.image === undefined, {
        what: 'ImageStatus of the missing tag answers with no image',
        expected: 'OK, image unset',
        got: status.ok ? (status.response.image === undefined ? 'image unset' : status.response.image.id) : describeOutcome(status),
      });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-027'],
    title: "A tag naming an image index pulls the manifest of the node's platform",
    async run(ctx: Ctx) {
      const native = buildTestImage({ name: ctx.uniqueName('kp-native') });
      const foreign = buildTestImage({ name: ctx.uniqueName('kp-foreign'), platform: foreignPlatform() });
      // The foreign entry comes first, so a runtime that takes the first manifest is caught.
      const index = buildImageIndex({ images: [foreign, native] });
      const repositoryPath = `kubeplug-cri-suite/${ctx.uniqueName('kp-index')}`;
      const reference = `${ctx.subject.run.registry}/${repositoryPath}:t1`;
      ctx.defer(async () => {
        const status = await imageStatus(ctx, reference);
        if (status.ok && status.response.image !== undefined) await removeImage(ctx, status.response.image.id);
      }, `remove image ${reference}`);
      await pushImageIndex({ registryHost: ctx.subject.run.registry, repository: repositoryPath }, index, 't1');
      ctx.note(`pushed index ${index.indexDigest}: ${foreign.platform.architecture} ${foreign.manifestDigest}, ${native.platform.architecture} ${native.manifestDigest}`);
      const imageRef = await pull(ctx, reference);
      const pod = await runTestPod(ctx);
      const container = await createContainerWith(ctx, pod, containerConfig(ctx, pod, { image: imageRef, command: sleepForever }));
      requireOk(ctx, await callRuntime(ctx, 'startContainer', { containerId: container.id }), { what: 'StartContainer succeeds' });
      const marker = await execSync(ctx, container.id, ['cat', markerPath]);
      ctx.check(marker.stdout.trim() === native.name, {
        what: `the container runs the ${native.platform.architecture} image of the index`,
        expected: native.name,
        got: marker.stdout.trim(),
      });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-029'],
    title: 'ImageFsInfo describes the image file system with a timestamp, a mount point and usage',
    async run(ctx: Ctx) {
      const before = BigInt(Date.now()) * 1_000_000n;
      const answer = await callImage(ctx, 'imageFsInfo', {});
      const after = BigInt(Date.now()) * 1_000_000n;
      requireOk(ctx, answer, { what: 'ImageFsInfo succeeds' });
      const filesystems = answer.response.imageFilesystems;
      ctx.check(filesystems.length > 0, { what: 'image_filesystems has at least one entry', expected: '>= 1', got: filesystems.length });
      for (const [index, fs] of filesystems.entries()) {
        // A runtime may serve usage it collected earlier, so the timestamp may precede the call, never follow it.
        ctx.check(fs.timestamp > 0n && fs.timestamp <= after + clockSlackNs, {
          what: `image_filesystems[${index}].timestamp is positive nanoseconds, not in the future`,
          expected: `> 0 and <= ${after + clockSlackNs} (call sent at ${before})`,
          got: fs.timestamp.toString(),
        });
        ctx.check((fs.fsId?.mountpoint ?? '') !== '', { what: `image_filesystems[${index}].fs_id.mountpoint is set`, expected: 'a path', got: fs.fsId?.mountpoint ?? 'fs_id unset' });
        ctx.check(fs.usedBytes !== undefined && fs.inodesUsed !== undefined, {
          what: `image_filesystems[${index}] reports used_bytes and inodes_used`,
          expected: 'both set',
          got: { usedBytes: fs.usedBytes?.value.toString() ?? 'unset', inodesUsed: fs.inodesUsed?.value.toString() ?? 'unset' },
        });
      }
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-030'],
    title: 'PullImage for an unknown runtime handler is refused',
    async run(ctx: Ctx) {
      const pushed = await pushCaseImage(ctx);
      const pulled = await pullImageOutcome(ctx, pushed.tagged[0] ?? '', { runtimeHandler: 'kubeplug-no-such-handler' });
      ctx.check(!pulled.ok, { what: 'PullImage naming runtime handler kubeplug-no-such-handler fails', expected: 'an error', got: describeOutcome(pulled) });
    },
  });
}
