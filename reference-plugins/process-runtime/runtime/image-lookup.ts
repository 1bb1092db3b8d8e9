/**
 * The part of the image store the RuntimeService needs: finding an image
 * by reference to build a rootfs from. The ImageStore of ../images satisfies
 * it; tests may give a folder-backed stand-in.
 */
export interface ImageLookup {
  find(reference: string): Promise<RuntimeImage | undefined>;
}

/** What a container is built from. */
export interface RuntimeImage {
  /** `sha256:<config digest>`. */
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly config: {
    readonly env: readonly string[];
    readonly entrypoint: readonly string[];
    readonly cmd: readonly string[];
    readonly workingDir: string;
    readonly user: string;
    readonly stopSignal?: string;
  };
  /** Unpacked layer folders, lowest first. */
  readonly layerDirs: readonly string[];
}
