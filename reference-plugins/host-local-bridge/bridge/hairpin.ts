import type { IpLine } from './iproute.js';

/** How the container's port behaves on the bridge. */
export interface PortMode {
  /** `hairpinMode`: frames may leave by the port they came in on, so a container reaches itself through a service address. */
  readonly hairpin: boolean;
  /** `portIsolation`: an isolated port talks only to non-isolated ports. */
  readonly isolated: boolean;
}

/**
 * The iproute2 command that sets a bridge port's hairpin and isolation
 * flags. Upstream always sets hairpin, on or off, and isolation too
 * (plugins/main/bridge/bridge.go, setupVeth); isolation is only named when
 * on, so kernels without the flag still take the common case.
 */
export function portModeLine(port: string, mode: PortMode): IpLine {
  return ['link', 'set', 'dev', port, 'type', 'bridge_slave', 'hairpin', mode.hairpin ? 'on' : 'off', ...(mode.isolated ? ['isolated', 'on'] : [])];
}
