/**
 * A CRI client that shares nothing with kubeplug's generated contract: it
 * loads proto/cri/runtime/v1/api.proto at run time with @grpc/proto-loader
 * (snake_case fields, enums as names, 64-bit numbers as strings), the way a
 * tool outside the kit would. Tests drive crictl's flow through it, so a
 * bug shared by our generated types and our runtime cannot hide.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const protoFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto/cri/runtime/v1/api.proto');

/** Plain JSON-like messages, as proto-loader decodes them. */
export type Message = Record<string, unknown>;

type Callback = (error: ServiceError | null, response: Message) => void;
type UnaryMethod = (request: Message, options: { deadline: Date }, callback: Callback) => void;

/** Both CRI services on one endpoint, called by RPC name as it appears in the proto (`RunPodSandbox`). */
export interface IndependentCriClient {
  runtime(rpc: string, request: Message): Promise<Message>;
  image(rpc: string, request: Message): Promise<Message>;
  close(): void;
}

/** Opens an independent client on `unix:///path.sock`. */
export function openIndependentCriClient(endpoint: string, deadlineMs = 60_000): IndependentCriClient {
  const definition = loadSync(protoFile, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const loaded = loadPackageDefinition(definition) as unknown as {
    runtime: { v1: Record<string, new (target: string, creds: ReturnType<typeof credentials.createInsecure>) => Client> };
  };
  const RuntimeService = loaded.runtime.v1['RuntimeService'];
  const ImageService = loaded.runtime.v1['ImageService'];
  if (RuntimeService === undefined || ImageService === undefined) throw new Error(`${protoFile} defines no CRI services`);
  const target = endpoint.startsWith('unix://') ? `unix:${endpoint.slice('unix://'.length)}` : endpoint;
  const runtime = new RuntimeService(target, credentials.createInsecure());
  const image = new ImageService(target, credentials.createInsecure());
  const call = (client: Client, rpc: string, request: Message): Promise<Message> =>
    new Promise((resolve, reject) => {
      // proto-loader names methods as the proto does, and also in lower camel case.
      const method = (client as unknown as Record<string, UnaryMethod | undefined>)[rpc];
      if (method === undefined) {
        reject(new Error(`no RPC ${rpc}`));
        return;
      }
      method.call(client, request, { deadline: new Date(Date.now() + deadlineMs) }, (error, response) => {
        if (error) reject(error);
        else resolve(response);
      });
    });
  return {
    runtime: (rpc, request) => call(runtime, rpc, request),
    image: (rpc, request) => call(image, rpc, request),
    close() {
      runtime.close();
      image.close();
    },
  };
}
