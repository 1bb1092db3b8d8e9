// Test images for the CRI suite, the runtime tests and the bench: built in memory from Debian's static busybox,
// pushed to a loopback docker-registry.
export { fixedTarMtime, gzipTar, writeTar } from './tar-writer.js';
export type { TarDirectoryEntry, TarEntry, TarFileEntry, TarHardlinkEntry, TarSymlinkEntry } from './tar-writer.js';
export {
  buildImageIndex,
  buildLayer,
  buildTestImage,
  busyboxApplets,
  busyboxBaseLayer,
  debianStaticBusybox,
  defaultTestImageConfig,
  dockerMediaTypes,
  foreignPlatform,
  hostPlatform,
  markerLayer,
  markerPath,
  ociMediaTypes,
  opaqueWhiteout,
  sha256Digest,
  testImagesUnavailable,
  testImageUser,
  whiteout,
} from './test-image.js';
export type {
  BuiltImage,
  BuiltImageIndex,
  BuiltLayer,
  Descriptor,
  ImageConfigDocument,
  ImageManifest,
  ImagePlatform,
  ManifestFormat,
  TestImageConfig,
  TestImageOptions,
} from './test-image.js';
export { blobExists, getManifest, manifestDigest, pushBlob, pushImage, pushImageIndex, RegistryHttpError } from './push-image.js';
export type { RegistryTarget } from './push-image.js';
export { htpasswdLine, testRegistryCredentials } from './registry-htpasswd.js';
export type { RegistryCredentials } from './registry-htpasswd.js';
export { debianDockerRegistry, registryUnavailable, startLoopbackRegistry } from './loopback-registry.js';
export type { LoopbackRegistry, LoopbackRegistryOptions } from './loopback-registry.js';
export { buildTestImageSet, layersImageExpectations, provisionTestImages, testImageNames } from './provision-test-images.js';
export type { ProvisionedTestImage, TestImageBuild, TestImageKey, TestImageSet } from './provision-test-images.js';
export { buildHostileImage, hostileLayerKinds, hostileLayers } from './hostile-layers.js';
export type { HostileLayer, HostileLayerKind } from './hostile-layers.js';
export { startTestImageRegistry } from './test-image-registry.js';
export type { TestImageRegistry } from './test-image-registry.js';
