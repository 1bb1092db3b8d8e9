/**
 * Images the image cases push for themselves: each case gets an image no
 * other case shares (its own marker layer, its own repository), so removing
 * it never pulls an image from under another case.
 */
import { ImageSpec, type AuthConfig, type Image } from '../../specs/cri/index.js';
import type { CaseContext } from '../framework/index.js';
import { callImage, type CallOutcome, type ImageResponse } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { buildTestImage, pushImage, type BuiltImage, type RegistryCredentials, type TestImageConfig } from './test-images/index.js';

type Ctx = CaseContext<CriSubject>;

/** An image a case pushed: where it lives and by which names a runtime can pull it. */
export interface PushedImage {
  readonly image: BuiltImage;
  /** `host/repository`, without tag or digest. */
  readonly repository: string;
  /** `host/repository:<tag>` for each tag pushed, in order. */
  readonly tagged: readonly string[];
  /** `host/repository@sha256:<manifest digest>`. */
  readonly byDigest: string;
  /** The text written to /etc/kubeplug-test-image in the image. */
  readonly marker: string;
}

/** What {@link pushCaseImage} pushes. */
export interface CaseImageOptions {
  readonly tags?: readonly string[];
  readonly config?: TestImageConfig;
  /** Registry host; the run's registry when unset. */
  readonly registry?: string;
  readonly credentials?: RegistryCredentials;
  /** Push this image instead of building one. */
  readonly image?: BuiltImage;
}

/**
 * Builds an image of the case's own (busybox plus a marker layer naming it),
 * pushes it under `tags` (default `t1`) to a fresh repository, and registers
 * its removal from the runtime, by ID, should the case leave it pulled.
 */
export async function pushCaseImage(ctx: Ctx, options: CaseImageOptions = {}): Promise<PushedImage> {
  const marker = ctx.uniqueName('kp-img');
  const image = options.image ?? buildTestImage({ name: marker, ...(options.config === undefined ? {} : { config: options.config }) });
  const registryHost = options.registry ?? ctx.subject.run.registry;
  const repositoryPath = `kubeplug-cri-suite/${marker}`;
  const repository = `${registryHost}/${repositoryPath}`;
  const tags = options.tags ?? ['t1'];
  const target = { registryHost, repository: repositoryPath, ...(options.credentials === undefined ? {} : { credentials: options.credentials }) };
  const tagged = tags.map((tag) => `${repository}:${tag}`);
  const byDigest = `${repository}@${image.manifestDigest}`;
  ctx.defer(() => removeIfPresent(ctx, [...tagged, byDigest]), `remove image ${repository} from the runtime`);
  if (tags.length === 0) await pushImage(target, image);
  for (const tag of tags) await pushImage(target, image, tag);
  ctx.note(`pushed ${tagged.join(', ') || byDigest} (manifest ${image.manifestDigest}, config ${image.configDigest})`);
  return { image, repository, tagged, byDigest, marker: options.image === undefined ? marker : image.name };
}

/** Removes whatever image the runtime holds under any of `references`; a no-op when none. */
async function removeIfPresent(ctx: Ctx, references: readonly string[]): Promise<void> {
  for (const reference of references) {
    const status = await imageStatus(ctx, reference);
    const id = status.ok ? status.response.image?.id : undefined;
    if (id === undefined) continue;
    const removed = await removeImage(ctx, id);
    if (!removed.ok) throw new Error(`image ${id} not removed: ${removed.error.code} ${removed.error.message}`);
  }
}

/** An ImageSpec naming `image`, every other field empty. */
export function imageSpec(image: string, extra: { runtimeHandler?: string } = {}): ImageSpec {
  return ImageSpec.fromPartial({ image, ...extra });
}

/** PullImage of `reference`, with a minute of extra deadline. */
export function pullImageOutcome(
  ctx: Ctx,
  reference: string,
  options: { auth?: AuthConfig; runtimeHandler?: string } = {},
): Promise<CallOutcome<ImageResponse<'pullImage'>>> {
  return callImage(
    ctx,
    'pullImage',
    { image: imageSpec(reference, options.runtimeHandler === undefined ? {} : { runtimeHandler: options.runtimeHandler }), auth: options.auth, sandboxConfig: undefined },
    { extraMs: 60_000 },
  );
}

/** ImageStatus of `reference`. */
export function imageStatus(ctx: Ctx, reference: string): Promise<CallOutcome<ImageResponse<'imageStatus'>>> {
  return callImage(ctx, 'imageStatus', { image: imageSpec(reference), verbose: false });
}

/** RemoveImage of `reference`. */
export function removeImage(ctx: Ctx, reference: string): Promise<CallOutcome<ImageResponse<'removeImage'>>> {
  return callImage(ctx, 'removeImage', { image: imageSpec(reference) });
}

/** ListImages, with an optional filter naming one image. */
export function listImages(ctx: Ctx, filterImage?: string): Promise<CallOutcome<ImageResponse<'listImages'>>> {
  return callImage(ctx, 'listImages', { filter: filterImage === undefined ? undefined : { image: imageSpec(filterImage) } });
}

/** An Image as comparable text: JSON with 64-bit numbers written as strings. */
export function imageFingerprint(image: Image | undefined): string {
  return JSON.stringify(image ?? null, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}
