import type { ServerWritableStream } from '@grpc/grpc-js';
import {
  GrpcStatusError,
  ImageServiceService,
  toGrpcHandlers,
  type AsyncServiceImplementation,
  type AuthConfig,
  type FilesystemUsage,
  type Image,
  type ImageServiceServer,
  type InternalErrorListener,
  type ServiceBinding,
  type StreamImagesRequest,
  type StreamImagesResponse,
} from '../../../specs/cri/index.js';
import { InvalidImageContentError, InvalidImageReferenceError, LayerExtractError, RegistryError, TarFormatError, type RegistryErrorKind } from './image-errors.js';
import type { ImageStore, RegistryAuth, StoredImage } from './image-store.js';
import type { GrpcStatusName } from '../../../specs/grpc/index.js';

/** The async handlers of the CRI ImageService. */
export type ImageServiceHandlers = AsyncServiceImplementation<typeof ImageServiceService>;

/** Options for the ImageService. */
export interface ImageServiceOptions {
  /** Usage of the filesystem holding container layers (upper dirs), reported as container_filesystems. */
  containerFilesystems?: () => Promise<FilesystemUsage[]>;
  /** Errors that reached the boundary without a status of their own (answered INTERNAL). */
  onInternalError?: InternalErrorListener;
  /**
   * Runtime handlers the runtime has besides the default (`''`, always
   * accepted); PullImage naming another is refused with INVALID_ARGUMENT.
   * @see CRI-IMAGE-030
   */
  runtimeHandlers?: () => readonly string[];
}

// Registry failures as gRPC statuses. containerd 1.6 answers every pull failure with UNKNOWN (a plain Go
// error) and the kubelet reads any failure as ErrImagePull, so the code is ours to choose: the
// gRPC meaning of each condition (grpc/grpc doc/statuscodes.md).
const codeOfRegistryError: Readonly<Record<RegistryErrorKind, GrpcStatusName>> = {
  'not-found': 'NOT_FOUND',
  'no-matching-platform': 'NOT_FOUND',
  unauthorized: 'UNAUTHENTICATED',
  forbidden: 'PERMISSION_DENIED',
  unreachable: 'UNAVAILABLE',
  'bad-response': 'UNAVAILABLE',
  'digest-mismatch': 'DATA_LOSS',
  unsupported: 'UNIMPLEMENTED',
};

/** Turns the image half's typed errors into gRPC statuses; anything else stays as is (INTERNAL at the boundary). */
export function imageErrorToStatus(error: unknown, field = 'image.image'): unknown {
  if (error instanceof GrpcStatusError) return error;
  if (error instanceof InvalidImageReferenceError) return new GrpcStatusError({ code: 'INVALID_ARGUMENT', message: `${field}: ${error.message}`, cause: error });
  if (error instanceof RegistryError) return new GrpcStatusError({ code: codeOfRegistryError[error.kind], message: error.message, cause: error });
  if (error instanceof InvalidImageContentError || error instanceof LayerExtractError || error instanceof TarFormatError) {
    return new GrpcStatusError({ code: 'INTERNAL', message: `${error.name}: ${error.message}`, cause: error });
  }
  return error;
}

function requireImage(image: string | undefined, field: string): string {
  if (image === undefined || image === '') throw new GrpcStatusError({ code: 'INVALID_ARGUMENT', message: `${field} is empty` });
  return image;
}

/** CRI AuthConfig as the store's credentials; empty strings are absent fields. */
export function registryAuthOf(auth: AuthConfig | undefined): RegistryAuth | undefined {
  if (auth === undefined) return undefined;
  const result: RegistryAuth = {};
  if (auth.username !== '') result.username = auth.username;
  if (auth.password !== '') result.password = auth.password;
  if (auth.auth !== '') result.auth = auth.auth;
  if (auth.identityToken !== '') result.identityToken = auth.identityToken;
  if (auth.registryToken !== '') result.registryToken = auth.registryToken;
  return Object.keys(result).length === 0 ? undefined : result;
}

/**
 * The CRI Image message for a stored image: uid or username from the
 * config's User (`uid` when numeric, `username` otherwise, neither when
 * unset), the manifest's annotations on its spec, never pinned.
 */
export function criImageOf(image: StoredImage): Image {
  const userPart = image.config.user.split(':')[0] ?? '';
  const numeric = /^[0-9]+$/.test(userPart);
  return {
    id: image.id,
    repoTags: [...image.repoTags],
    repoDigests: [...image.repoDigests],
    size: image.size,
    uid: numeric ? { value: BigInt(userPart) } : undefined,
    username: numeric ? '' : userPart,
    spec: { image: image.id, annotations: { ...image.annotations }, userSpecifiedImage: '', runtimeHandler: '', imageRef: image.id },
    pinned: false,
  };
}

/** The ImageService as async handlers; every typed error is mapped to its status here. */
export function createImageServiceHandlers(store: ImageStore, options: ImageServiceOptions = {}): ImageServiceHandlers {
  const mapped = <Req, Res>(field: string, handler: (request: Req) => Promise<Res>) =>
    async (request: Req): Promise<Res> => {
      try {
        return await handler(request);
      } catch (error) {
        throw imageErrorToStatus(error, field);
      }
    };
  return {
    listImages: mapped('filter.image.image', async (request) => {
      const wanted = request.filter?.image?.image ?? '';
      if (wanted === '') return { images: (await store.list()).map(criImageOf) };
      const image = await store.find(wanted);
      return { images: image === undefined ? [] : [criImageOf(image)] };
    }),
    imageStatus: mapped('image.image', async (request) => {
      const image = await store.find(requireImage(request.image?.image, 'image.image'));
      if (image === undefined) return { image: undefined, info: {} };
      const info: Record<string, string> = {};
      if (request.verbose) {
        info.info = JSON.stringify({ id: image.id, chainIds: image.chainIds, layerDirs: image.layerDirs, imageSpec: await store.imageConfig(image.id) });
      }
      return { image: criImageOf(image), info };
    }),
    pullImage: mapped('image.image', async (request) => {
      const handler = request.image?.runtimeHandler ?? '';
      if (handler !== '' && !(options.runtimeHandlers?.() ?? []).includes(handler)) {
        throw new GrpcStatusError({ code: 'INVALID_ARGUMENT', message: `image.runtime_handler: no runtime handler ${JSON.stringify(handler)}` });
      }
      const image = await store.pull(requireImage(request.image?.image, 'image.image'), registryAuthOf(request.auth));
      return { imageRef: image.id };
    }),
    removeImage: mapped('image.image', async (request) => {
      await store.remove(requireImage(request.image?.image, 'image.image'));
      return {};
    }),
    imageFsInfo: mapped('', async () => {
      const usage = await store.fsInfo();
      const timestamp = BigInt(Date.now()) * 1_000_000n;
      return {
        imageFilesystems: [
          { timestamp, fsId: { mountpoint: usage.mountpoint }, usedBytes: { value: usage.usedBytes }, inodesUsed: { value: usage.inodesUsed } },
        ],
        containerFilesystems: options.containerFilesystems === undefined ? [] : await options.containerFilesystems(),
      };
    }),
  };
}

const streamBatchSize = 100;

/**
 * grpc-js handlers for the whole ImageService, StreamImages included
 * (ListImages in batches of 100), ready for `server.addService`.
 */
export function createImageService(store: ImageStore, options: ImageServiceOptions = {}): ImageServiceServer {
  const handlers = createImageServiceHandlers(store, options);
  const unary = toGrpcHandlers(ImageServiceService, handlers, options.onInternalError);
  const streamImages = (call: ServerWritableStream<StreamImagesRequest, StreamImagesResponse>): void => {
    handlers.listImages!({ filter: call.request.filter }, { method: ImageServiceService.streamImages.path, metadata: call.metadata, peer: call.getPeer() }).then(
      ({ images }) => {
        for (let start = 0; start < images.length; start += streamBatchSize) call.write({ images: images.slice(start, start + streamBatchSize) });
        call.end();
      },
      (error: unknown) => {
        if (!(error instanceof GrpcStatusError)) options.onInternalError?.(ImageServiceService.streamImages.path, error);
        call.emit('error', GrpcStatusError.from(error).toServiceError());
      },
    );
  };
  return { ...unary, streamImages } as ImageServiceServer;
}

/** The ImageService as a binding for `serve()` from specs/grpc. */
export function imageServiceBinding(store: ImageStore, options: ImageServiceOptions = {}): ServiceBinding {
  return { definition: ImageServiceService, handlers: createImageService(store, options) };
}
