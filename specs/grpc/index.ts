/** gRPC plumbing shared by the CRI and CSI contracts. */
export { grpcStatusCodes, grpcStatusName, type GrpcStatusName } from './status-codes.js';
export { GrpcStatusError, isServiceError, type GrpcStatusErrorOptions } from './grpc-status-error.js';
export { EndpointError, socketPathOf, grpcTargetOf } from './endpoint.js';
export {
  serve,
  bindService,
  SocketInUseError,
  type ServeOptions,
  type RunningServer,
  type ServiceBinding,
} from './serve.js';
export {
  toGrpcHandlers,
  type AsyncServiceImplementation,
  type UnaryCallContext,
  type InternalErrorListener,
  type RequestOf,
  type ResponseOf,
} from './unary-handlers.js';
export { callUnary, type UnaryCallOptions } from './unary-call.js';
export { createClient, waitForConnection, EndpointUnreachableError, type ClientConstructor } from './connect.js';
