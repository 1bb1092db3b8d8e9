/**
 * The image pull policy the API server gives a container that names none:
 * Always when the image's tag is "latest" (or it has neither tag nor digest,
 * which means "latest"), IfNotPresent otherwise.
 * Source: kubernetes/kubernetes pkg/apis/core/v1/defaults.go
 * (SetDefaults_Container) with pkg/util/parsers ParseImageName.
 */
import type { ImagePullPolicy } from '../api/pod-types.js';

/** The tag and digest an image reference carries ("" when absent). */
export function imageTagAndDigest(image: string): { tag: string; digest: string } {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : '';
  const name = at >= 0 ? image.slice(0, at) : image;
  // A ':' after the last '/' starts the tag; one before it is a registry port.
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  const tag = colon >= 0 ? name.slice(colon + 1) : '';
  return { tag, digest };
}

/** The default imagePullPolicy for an image reference. */
export function defaultImagePullPolicy(image: string): ImagePullPolicy {
  const { tag, digest } = imageTagAndDigest(image);
  const effectiveTag = tag === '' && digest === '' ? 'latest' : tag;
  return effectiveTag === 'latest' ? 'Always' : 'IfNotPresent';
}
