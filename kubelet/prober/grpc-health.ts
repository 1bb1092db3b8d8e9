/**
 * grpc.health.v1.Health/Check without a .proto file: the two messages are
 * small enough to encode by hand (HealthCheckRequest { string service = 1 },
 * HealthCheckResponse { ServingStatus status = 1 }), as
 * grpc/grpc-proto grpc/health/v1/health.proto declares them.
 */
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

/** HealthCheckResponse.ServingStatus values, by number. */
export const servingStatusNames = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
export type ServingStatusName = (typeof servingStatusNames)[number];

export const healthCheckPath = '/grpc.health.v1.Health/Check';

function encodeVarint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

function readVarint(bytes: Buffer, at: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  let index = at;
  for (;;) {
    const byte = bytes[index];
    if (byte === undefined) throw new Error('truncated varint');
    value += (byte & 0x7f) * scale;
    index += 1;
    if ((byte & 0x80) === 0) return { value, next: index };
    scale *= 128;
    if (scale > 2 ** 56) throw new Error('varint too long');
  }
}

/** Encodes a HealthCheckRequest. */
export function encodeHealthCheckRequest(request: { service: string }): Buffer {
  if (request.service === '') return Buffer.alloc(0);
  const service = Buffer.from(request.service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a, ...encodeVarint(service.length)]), service]);
}

/** Decodes a HealthCheckRequest (for test servers). */
export function decodeHealthCheckRequest(bytes: Buffer): { service: string } {
  let service = '';
  let at = 0;
  while (at < bytes.length) {
    const key = readVarint(bytes, at);
    const wireType = key.value & 7;
    if (wireType === 2) {
      const length = readVarint(bytes, key.next);
      const value = bytes.subarray(length.next, length.next + length.value);
      if (key.value >>> 3 === 1) service = value.toString('utf8');
      at = length.next + length.value;
    } else if (wireType === 0) {
      at = readVarint(bytes, key.next).next;
    } else {
      throw new Error(`unexpected wire type ${wireType}`);
    }
  }
  return { service };
}

/** Encodes a HealthCheckResponse (for test servers). */
export function encodeHealthCheckResponse(response: { status: number }): Buffer {
  return response.status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, ...encodeVarint(response.status)]);
}

/** Decodes a HealthCheckResponse; unknown fields are skipped. */
export function decodeHealthCheckResponse(bytes: Buffer): { status: number } {
  let status = 0;
  let at = 0;
  while (at < bytes.length) {
    const key = readVarint(bytes, at);
    const wireType = key.value & 7;
    if (wireType === 0) {
      const value = readVarint(bytes, key.next);
      if (key.value >>> 3 === 1) status = value.value;
      at = value.next;
    } else if (wireType === 2) {
      const length = readVarint(bytes, key.next);
      at = length.next + length.value;
    } else if (wireType === 5) {
      at = key.next + 4;
    } else if (wireType === 1) {
      at = key.next + 8;
    } else {
      throw new Error(`unexpected wire type ${wireType}`);
    }
  }
  return { status };
}

/** The hand-written method definition a grpc-js server binds for Health/Check (used by the prober's tests). */
export const healthServiceDefinition = {
  Check: {
    path: healthCheckPath,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeHealthCheckRequest,
    requestDeserialize: decodeHealthCheckRequest,
    responseSerialize: encodeHealthCheckResponse,
    responseDeserialize: decodeHealthCheckResponse,
  },
} as const;

/** What one Check answered: a serving status, or the gRPC error that came instead. */
export type HealthCheckAnswer = { readonly status: ServingStatusName | `${number}` } | { readonly error: ServiceError };

/**
 * Calls Check once on `host:port` over plaintext gRPC with a deadline, as
 * upstream's probe does (kubernetes/kubernetes pkg/probe/grpc/grpc.go).
 */
export function checkHealth(options: { host: string; port: number; service: string; timeoutMs: number; userAgent: string }): Promise<HealthCheckAnswer> {
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const client = new Client(`${host}:${options.port}`, credentials.createInsecure(), {
    'grpc.primary_user_agent': options.userAgent,
    // One attempt per probe: the prober's period is the retry.
    'grpc.enable_retries': 0,
    'grpc.initial_reconnect_backoff_ms': 100,
  });
  return new Promise<HealthCheckAnswer>((resolve) => {
    client.makeUnaryRequest(
      healthCheckPath,
      encodeHealthCheckRequest,
      decodeHealthCheckResponse,
      { service: options.service },
      new Metadata(),
      { deadline: new Date(Date.now() + options.timeoutMs) },
      (error, response) => {
        client.close();
        if (error !== null) resolve({ error });
        else {
          const code = response?.status ?? 0;
          resolve({ status: servingStatusNames[code] ?? `${code}` });
        }
      },
    );
  });
}
