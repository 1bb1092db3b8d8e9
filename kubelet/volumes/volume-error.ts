/** A volume of a pod could not be set up or torn down; names the volume. */
export class VolumeError extends Error {
  readonly volume: string;
  constructor(options: { volume: string; message: string; cause?: unknown }) {
    super(`volume ${JSON.stringify(options.volume)}: ${options.message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VolumeError';
    this.volume = options.volume;
  }
}
