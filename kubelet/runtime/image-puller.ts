/**
 * Makes a container's image present before CreateContainer, per its
 * imagePullPolicy (the decision itself is the replaceable part
 * `shouldPullImage`), with the real kubelet's waiting reasons and events
 * (kubernetes/kubernetes pkg/kubelet/images/image_manager.go EnsureImageExists,
 * pkg/kubelet/images/types.go): ErrImagePull, then ImagePullBackOff while a
 * back-off runs; ErrImageNeverPull for Never and an absent image.
 * @see KUBELET-PLUGIN-001
 * @see KUBELET-PHASE-008
 */
import { callUnary, type ImageServiceClient, type PodSandboxConfig } from '../../specs/cri/index.js';
import type { Container, ImagePullPolicy, Pod } from '../api/pod-types.js';
import type { EventSink } from '../events/event-sink.js';
import type { KubeletParts } from '../kubelet-parts.js';
import { defaultRestartBackoff } from './container-backoff.js';

/** The outcome of ensuring an image. */
export type ImageResult = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly message: string; readonly retryAt?: number };

/** The API server's default when the manifest has none: Always for ":latest" or no tag, IfNotPresent otherwise. */
export function effectivePullPolicy(container: Container): ImagePullPolicy {
  if (container.imagePullPolicy !== undefined) return container.imagePullPolicy;
  const image = container.image;
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  const tag = colon < 0 ? '' : image.slice(colon + 1);
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/** Options for {@link ImagePuller}. */
export interface ImagePullerOptions {
  readonly images: ImageServiceClient;
  readonly shouldPullImage: KubeletParts['shouldPullImage'];
  readonly events: EventSink;
  readonly maxBackoffMs: number;
  readonly now: () => number;
  readonly pullTimeoutMs?: number;
}

/** Pulls images for pods' containers and remembers failures for the back-off (per pod and container). */
export class ImagePuller {
  readonly #options: ImagePullerOptions;
  readonly #failures = new Map<string, { failures: number; until: number; image: string; told: boolean }>();

  constructor(options: ImagePullerOptions) {
    this.#options = options;
  }

  /** Forgets a pod's pull failures. */
  forget(uid: string): void {
    for (const key of this.#failures.keys()) if (key.startsWith(`${uid}/`)) this.#failures.delete(key);
  }

  async ensure(pod: Pod, container: Container, fieldPath: string, sandboxConfig: PodSandboxConfig): Promise<ImageResult> {
    const { images, events } = this.#options;
    const now = this.#options.now();
    const key = `${pod.metadata.uid ?? ''}/${container.name}`;
    const image = container.image;
    const failed = this.#failures.get(key);
    if (failed !== undefined && failed.image === image && now < failed.until) {
      const message = `Back-off pulling image "${image}"`;
      // One BackOff event per back-off, not one per sync.
      if (!failed.told) events.record(pod, fieldPath, 'Normal', 'BackOff', message);
      failed.told = true;
      return { ok: false, reason: 'ImagePullBackOff', message, retryAt: failed.until };
    }
    const deadline = (): { deadline: Date } => ({ deadline: new Date(Date.now() + (this.#options.pullTimeoutMs ?? 300_000)) });
    let present: boolean;
    try {
      const status = await callUnary(images, images.imageStatus, { image: { image, annotations: {}, userSpecifiedImage: image, runtimeHandler: '', imageRef: '' }, verbose: false }, deadline());
      present = status.image !== undefined && status.image.id !== '';
    } catch (error) {
      return this.#failed(pod, key, image, fieldPath, now, `ImageStatus failed: ${(error as Error).message}`);
    }
    const policy = effectivePullPolicy(container);
    if (!this.#options.shouldPullImage(policy, present)) {
      if (present) {
        events.record(pod, fieldPath, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
        return { ok: true };
      }
      const message = `Container image "${image}" is not present with pull policy of Never`;
      events.record(pod, fieldPath, 'Warning', 'ErrImageNeverPull', message);
      return { ok: false, reason: 'ErrImageNeverPull', message };
    }
    events.record(pod, fieldPath, 'Normal', 'Pulling', `Pulling image "${image}"`);
    const started = Date.now();
    try {
      await callUnary(
        images,
        images.pullImage,
        { image: { image, annotations: {}, userSpecifiedImage: image, runtimeHandler: '', imageRef: '' }, sandboxConfig },
        deadline(),
      );
    } catch (error) {
      return this.#failed(pod, key, image, fieldPath, now, (error as Error).message);
    }
    this.#failures.delete(key);
    events.record(pod, fieldPath, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${Date.now() - started}ms`);
    return { ok: true };
  }

  #failed(pod: Pod, key: string, image: string, fieldPath: string, now: number, cause: string): ImageResult {
    const previous = this.#failures.get(key);
    const failures = (previous?.image === image ? previous.failures : 0) + 1;
    const until = now + defaultRestartBackoff(failures, this.#options.maxBackoffMs);
    this.#failures.set(key, { failures, until, image, told: false });
    const message = `Failed to pull image "${image}": ${cause}`;
    this.#options.events.record(pod, fieldPath, 'Warning', 'Failed', message);
    this.#options.events.record(pod, fieldPath, 'Warning', 'Failed', 'Error: ErrImagePull');
    return { ok: false, reason: 'ErrImagePull', message, retryAt: until };
  }
}
