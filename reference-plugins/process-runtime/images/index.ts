/**
 * The image half of kubeplug's process runtime: an image store that pulls
 * over the registry HTTP API v2 into a content-addressed folder and unpacks
 * layers as overlayfs lower dirs, and the CRI ImageService on top of it.
 *
 * On disk, under the store's root (`--root DIR` + `/images`):
 * - `blobs/sha256/<hex>`: manifests, configs and layer blobs, verified;
 * - `records/<config hex>.json`: one record per image (tags, digests, layers);
 * - `layers/<chain ID hex>/`: one unpacked layer per chain ID, shared by images,
 *   whiteouts as 0/0 character devices, opaque folders as explicit whiteouts;
 * - `tmp/` and `layers/.tmp-*`: work in progress, dropped at open.
 */
export {
  ImageStore,
  parseImageConfig,
  type ImageStoreOptions,
  type StoredImage,
  type RegistryAuth,
  type ImageConfigSummary,
} from './image-store.js';
export {
  createImageService,
  createImageServiceHandlers,
  imageServiceBinding,
  imageErrorToStatus,
  criImageOf,
  registryAuthOf,
  type ImageServiceHandlers,
  type ImageServiceOptions,
} from './image-service.js';
export {
  parseImageReference,
  formatImageReference,
  repoTagOf,
  repoDigestOf,
  defaultDomain,
  type ImageReference,
} from './image-reference.js';
export {
  InvalidImageReferenceError,
  RegistryError,
  TarFormatError,
  LayerExtractError,
  InvalidImageContentError,
  registryErrorKinds,
  type RegistryErrorKind,
} from './image-errors.js';
export { chainIdsOf } from './layer-store.js';
export { hostPlatform, type Platform } from './platform-match.js';
