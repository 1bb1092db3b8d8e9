/**
 * CNI's JSON shapes: network configurations, configuration lists and the
 * results of every spec version (containernetworking/cni SPEC.md 1.1.0;
 * 0.1.0–0.2.0 and 0.3.0–0.4.0 result shapes from libcni's pkg/types/020 and
 * pkg/types/040, repository tag v1.3.0). Field names are the wire names.
 */

/** A JSON object whose keys a plugin may not know; unknown keys are kept, never dropped. */
export type JsonObject = { [key: string]: unknown };

/** DNS settings (SPEC.md § Success, `dns`). */
export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A route (SPEC.md § Success, `routes`); mtu, advmss, priority, table and scope are 1.1.0's. */
export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

/** An interface the plugin created (SPEC.md § Success, `interfaces`); mtu, socketPath and pciID are 1.1.0's. */
export interface ResultInterface {
  name: string;
  mac?: string;
  mtu?: number;
  /** The netns path for a container interface; absent for a host interface. */
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

/** An address the plugin assigned, in a 1.0.0+ result. */
export interface IpConfig {
  /** CIDR notation, e.g. 10.1.0.5/24. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

/** An address in a 0.3.x/0.4.0 result: as in 1.0.0, plus `version`. */
export interface IpConfig040 extends IpConfig {
  version: '4' | '6';
}

/** A result of spec 1.0.0 or 1.1.0. */
export interface Result100 {
  cniVersion: string;
  interfaces?: ResultInterface[];
  ips?: IpConfig[];
  routes?: Route[];
  dns?: Dns;
}

/** A result of spec 0.3.0, 0.3.1 or 0.4.0. */
export interface Result040 {
  cniVersion: string;
  interfaces?: ResultInterface[];
  ips?: IpConfig040[];
  routes?: Route[];
  dns?: Dns;
}

/** One address family's part of a 0.1.0/0.2.0 result. */
export interface Ip020 {
  ip: string;
  gateway?: string;
  routes?: Route[];
}

/** A result of spec 0.1.0 or 0.2.0. */
export interface Result020 {
  cniVersion: string;
  ip4?: Ip020;
  ip6?: Ip020;
  dns?: Dns;
}

/** A result of any version. */
export type AnyResult = Result100 | Result040 | Result020;

/** The IPAM section of a network configuration; its plugin reads the rest. */
export interface IpamConf extends JsonObject {
  type: string;
}

/** One plugin's configuration, as the runtime feeds it on stdin (SPEC.md § Plugin configuration objects). */
export interface NetConf extends JsonObject {
  cniVersion: string;
  name: string;
  type: string;
  ipam?: IpamConf;
  dns?: Dns;
  capabilities?: { [capability: string]: boolean };
  runtimeConfig?: JsonObject;
  args?: JsonObject;
  prevResult?: AnyResult;
}

/** A network configuration list (SPEC.md § Configuration format). */
export interface NetConfList {
  cniVersion: string;
  cniVersions?: string[];
  name: string;
  disableCheck?: boolean;
  disableGC?: boolean;
  loadOnlyInlinedPlugins?: boolean;
  plugins: JsonObject[];
}

/** What VERSION prints (SPEC.md § VERSION). */
export interface VersionResult {
  cniVersion: string;
  supportedVersions: string[];
}

/** One attachment GC must keep (SPEC.md § GC, `cni.dev/valid-attachments`). */
export interface Attachment {
  containerID: string;
  ifname: string;
}
