import { GrpcStatusError, type CapacityRange } from '../../specs/csi/index.js';
import { invalidArgument } from './request-fields.js';

/** Volumes are sized in whole mebibytes: the unit requests are rounded up to. */
export const allocationUnitBytes = 1024 * 1024;
/** The size of a volume whose CreateVolume gives no capacity range. */
export const defaultVolumeBytes = 64 * allocationUnitBytes;
/** The smallest volume: one unit, which still holds a usable ext4 filesystem. */
export const minimumVolumeBytes = allocationUnitBytes;

/** A capacity range read from a request: 0 means unset, as in CSI. */
export interface ByteRange {
  readonly requiredBytes: number;
  readonly limitBytes: number;
}

/** Reads a request's range; negative values are INVALID_ARGUMENT. */
export function readCapacityRange(range: CapacityRange | undefined, field: string): ByteRange {
  const required = range?.requiredBytes ?? 0n;
  const limit = range?.limitBytes ?? 0n;
  if (required < 0n) throw invalidArgument(`${field}.required_bytes must not be negative`);
  if (limit < 0n) throw invalidArgument(`${field}.limit_bytes must not be negative`);
  if (required > BigInt(Number.MAX_SAFE_INTEGER) || limit > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new GrpcStatusError({ code: 'OUT_OF_RANGE', message: `${field} asks for more bytes than this driver can address` });
  }
  return { requiredBytes: Number(required), limitBytes: Number(limit) };
}

/** True when a size satisfies a range (what makes a repeated CreateVolume compatible). */
export function sizeSatisfies(size: number, range: ByteRange): boolean {
  return size >= range.requiredBytes && (range.limitBytes === 0 || size <= range.limitBytes);
}

/**
 * The size to allocate for a range: at least `floorBytes` (the minimum, or a
 * source's size), the required bytes rounded up to whole mebibytes, never
 * above the limit; when nothing is required, `preferredBytes` (a source's
 * size, else the default size) within the limit.
 * @throws GrpcStatusError OUT_OF_RANGE when no whole-mebibyte size fits
 */
export function chooseSize(range: ByteRange, options: { floorBytes: number; preferredBytes?: number; field: string }): number {
  const { floorBytes, field } = options;
  const preferred = options.preferredBytes ?? defaultVolumeBytes;
  const low = Math.max(range.requiredBytes, floorBytes, minimumVolumeBytes);
  const wanted = range.requiredBytes > 0 ? low : Math.max(low, range.limitBytes > 0 ? Math.min(preferred, range.limitBytes) : preferred);
  let size = Math.ceil(wanted / allocationUnitBytes) * allocationUnitBytes;
  if (range.limitBytes > 0 && size > range.limitBytes) size = Math.floor(range.limitBytes / allocationUnitBytes) * allocationUnitBytes;
  if (size < low || (range.limitBytes > 0 && size > range.limitBytes)) {
    throw new GrpcStatusError({
      code: 'OUT_OF_RANGE',
      message: `${field} [${range.requiredBytes}, ${range.limitBytes === 0 ? 'unlimited' : range.limitBytes}] holds no size of whole MiB of at least ${low} bytes`,
    });
  }
  return size;
}
