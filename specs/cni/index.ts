/**
 * kubeplug/cni: the typed contract of the Container Network Interface 1.1.0.
 *
 * Configuration and result types of every version with conversion between
 * them, error codes as data and CniError, validators that name the bad field,
 * a plugin skeleton (env + stdin in, result or error JSON out) and a
 * libcni-style invoker with libcni's result cache.
 */
export { cniSpecVersion, cniSupportedVersions, cniVerbs, isCniVersion, isCniVerb, compareVersions, atLeast, type CniVersion, type CniVerb } from './versions.js';
export { cniErrorCodes, firstPluginErrorCode, type CniErrorName } from './error-codes.js';
export { CniError, type CniErrorJson, type CniErrorOptions } from './cni-error.js';
export type {
  AnyResult,
  Attachment,
  Dns,
  Ip020,
  IpamConf,
  IpConfig,
  IpConfig040,
  JsonObject,
  NetConf,
  NetConfList,
  Result020,
  Result040,
  Result100,
  ResultInterface,
  Route,
  VersionResult,
} from './types.js';
export { convertResult, toResult100, resultFamily, familyOf } from './result-conversion.js';
export {
  decodeJsonObject,
  validateNetConf,
  validateNetConfList,
  validateEnvironment,
  interfaceNameProblem,
  parseCniArgs,
  networkNamePattern,
  containerIdPattern,
  maxInterfaceNameLength,
  requiredEnvironment,
} from './validate.js';
export {
  dispatch,
  runPlugin,
  type PluginDefinition,
  type PluginHandlers,
  type PluginRequest,
  type GcRequest,
  type Invocation,
  type InvocationOutcome,
} from './skeleton.js';
export { execPlugin, runPluginProcess, cniEnvironment, pluginFailure, type PluginCall, type PluginRun, type ExecPluginOptions } from './exec-plugin.js';
export { cacheKind, cachePath, readCache, writeCache, deleteCache, listCache, type CachedAttachment } from './result-cache.js';
export {
  CniInvoker,
  buildConfig,
  effectiveVersion,
  loadNetworkConfig,
  validateRuntimeConf,
  type CniInvokerOptions,
  type RuntimeConf,
  type InvocationRecord,
} from './invoker.js';
