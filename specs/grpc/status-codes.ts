/**
 * The canonical gRPC status codes, as data.
 *
 * Numbers are gRPC's wire values (grpc/grpc doc/statuscodes.md); names are the
 * upper-case spellings both CSI's and CRI's documents use.
 */
export const grpcStatusCodes = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status code by name. */
export type GrpcStatusName = keyof typeof grpcStatusCodes;

const namesByNumber = new Map<number, GrpcStatusName>(
  (Object.entries(grpcStatusCodes) as [GrpcStatusName, number][]).map(([name, value]) => [value, name]),
);

/** The name of a numeric gRPC status code, or `undefined` for a number gRPC does not define. */
export function grpcStatusName(code: number): GrpcStatusName | undefined {
  return namesByNumber.get(code);
}
