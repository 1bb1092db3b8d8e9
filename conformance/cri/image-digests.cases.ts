import type { CaseContext, Suite } from '../framework/index.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome } from './expect-status.js';
import { startBlobServer, type ServedManifest } from './image-blob-server.js';
import { imageStatus, pullImageOutcome, removeImage } from './image-pushes.js';
import { buildTestImage, sha256Digest, type BuiltImage } from './test-images/index.js';

type Ctx = CaseContext<CriSubject>;

function served(image: BuiltImage, tag: string): ServedManifest {
  return { tag, digest: image.manifestDigest, mediaType: image.mediaType, bytes: image.manifestBytes };
}

/** Declares the digest verification case (specs/cri/SPEC.md, CRI-IMAGE-028). */
export function declareImageDigestCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-IMAGE-028'],
    title: 'A pull fails when a layer blob does not match its digest, and keeps nothing of the image',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      // Two images of the case's own: "good" is served faithfully, as a control; "tampered" has its
      // marker layer served with one byte of the gzip header changed (the MTIME field, which
      // decompression ignores): same size, same content, same diff ID, another digest. Only a
      // runtime that checks the blob's digest can tell.
      const good = buildTestImage({ name: ctx.uniqueName('kp-digest-good') });
      const tampered = buildTestImage({ name: ctx.uniqueName('kp-digest-bad') });
      const original = tampered.layers.at(-1);
      ctx.require(original !== undefined && original.data[0] === 0x1f && original.data[1] === 0x8b, {
        what: "the tampered image's last layer is gzip",
        expected: 'gzip magic 1f 8b',
        got: original === undefined ? 'no layer' : original.data.subarray(0, 2).toString('hex'),
      });
      const substitute = { data: Buffer.from(original.data), digest: '' };
      substitute.data[4] = (substitute.data[4] ?? 0) ^ 0x01;
      substitute.digest = sha256Digest(substitute.data);
      const blobs = new Map<string, Buffer>();
      for (const image of [good, tampered]) {
        blobs.set(image.configDigest, image.configBytes);
        for (const layer of image.layers) blobs.set(layer.digest, layer.data);
      }
      blobs.set(original.digest, substitute.data);
      const repository = `kubeplug-cri-suite/${ctx.uniqueName('kp-digest')}`;
      const server = await startBlobServer({ repository, manifests: [served(good, 'good'), served(tampered, 'tampered')], blobs });
      ctx.defer(() => server.close(), `stop the blob server at ${server.host}`);
      const goodRef = `${server.host}/${repository}:good`;
      const badRef = `${server.host}/${repository}:tampered`;
      ctx.defer(async () => {
        for (const reference of [goodRef, badRef]) {
          const status = await imageStatus(ctx, reference);
          if (status.ok && status.response.image !== undefined) await removeImage(ctx, status.response.image.id);
        }
      }, 'remove the digest case images from the runtime');
      ctx.note(`serving ${repository} at ${server.host}: ${badRef} serves layer ${original.digest} as bytes whose digest is ${substitute.digest} (gzip MTIME changed)`);

      const control = await pullImageOutcome(ctx, goodRef);
      if (!control.ok) {
        ctx.skip(`the runtime could not pull the faithful control image from the suite's server at ${server.host} (${control.error.code}: ${control.error.message}); it must reach this machine's loopback over plain http`);
      }
      const pulled = await pullImageOutcome(ctx, badRef);
      ctx.note(`requests served: ${server.requests.join(', ')}`);
      ctx.check(!pulled.ok, { what: 'PullImage of the image with a mismatching layer fails', expected: 'an error', got: describeOutcome(pulled) });
      const status = await imageStatus(ctx, badRef);
      ctx.check(status.ok && status.response.image === undefined, {
        what: 'the failed pull leaves no image under the tag',
        expected: 'OK, image unset',
        got: status.ok ? (status.response.image === undefined ? 'image unset' : status.response.image.id) : describeOutcome(status),
      });
    },
  });
}
