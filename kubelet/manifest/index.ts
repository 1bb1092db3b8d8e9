/** Static pod manifests: loading, defaults, validation, UIDs. */
export {
  configHashAnnotation,
  configSourceAnnotation,
  describeManifestErrors,
  loadManifests,
  loadManifestText,
  parseManifestText,
  staticPodFromDocument,
} from './load-manifests.js';
export type { ManifestLoad, StaticPodOptions } from './load-manifests.js';
export { manifestKinds } from './load-manifests.js';
export { applyPodDefaults, defaultTerminationMessagePath, podDefaults, probeDefaults } from './apply-defaults.js';
export { defaultImagePullPolicy } from './image-pull-policy.js';
export { validatePod } from './validate-pod.js';
export { canonicalJson, staticPodUid } from './static-pod-uid.js';
export type { StaticPodUidOptions } from './static-pod-uid.js';
