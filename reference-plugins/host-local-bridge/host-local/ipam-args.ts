import { CniError } from '../../../specs/cni/cni-error.js';
import { parseIpAllowingPrefix, type IpAddress } from './ip-address.js';

/** What host-local reads from CNI_ARGS. */
export interface IpamArgs {
  /** `IP=`: the address the runtime asks for. */
  readonly ip?: IpAddress;
}

function argsError(msg: string, details?: string): CniError {
  return new CniError({ code: 'INVALID_ENVIRONMENT', msg, ...(details === undefined ? {} : { details }) });
}

/** Reads a boolean the way libcni's UnmarshallableBool does: 1/true/0/false, any case. */
function parseArgsBoolean(key: string, value: string): boolean {
  switch (value.toLowerCase()) {
    case '1':
    case 'true':
      return true;
    case '0':
    case 'false':
      return false;
    default:
      throw argsError(`CNI_ARGS: cannot parse ${key}=${value}`, 'a boolean is one of 1, true, 0, false');
  }
}

/**
 * Reads host-local's CNI_ARGS keys, `IP` and `IgnoreUnknown` (names are
 * case-sensitive, as libcni matches Go field names). Any other key is an
 * error unless `IgnoreUnknown` is true, wherever it appears in the list.
 * @see containernetworking/cni pkg/types/args.go (LoadArgs); containernetworking/plugins plugins/ipam/host-local/backend/allocator/config.go (IPAMEnvArgs)
 */
export function parseIpamArgs(pairs: readonly (readonly [string, string])[]): IpamArgs {
  let ip: IpAddress | undefined;
  let ignoreUnknown = false;
  const unknown: string[] = [];
  for (const [key, value] of pairs) {
    switch (key) {
      case 'IgnoreUnknown':
        ignoreUnknown = parseArgsBoolean(key, value);
        break;
      case 'IP': {
        // An empty value means no request, as an empty ip.IP does upstream; a prefix is allowed and dropped.
        if (value === '') break;
        const parsed = parseIpAllowingPrefix(value);
        if (parsed === undefined) throw argsError(`CNI_ARGS: IP=${value} is not an IP address`);
        ip = parsed;
        break;
      }
      default:
        unknown.push(`${key}=${value}`);
    }
  }
  if (unknown.length > 0 && !ignoreUnknown) {
    throw argsError(`CNI_ARGS: unknown args ${JSON.stringify(unknown)}`, 'set IgnoreUnknown=1 to allow keys host-local does not read');
  }
  return ip === undefined ? {} : { ip };
}
