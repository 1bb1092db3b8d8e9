#!/usr/bin/env node
/**
 * kubeplug-host-local: the CNI IPAM plugin executable (CNI type
 * `kubeplug-host-local`), a drop-in for upstream host-local.
 */
// Straight from the contract's modules, not its index: the index also loads the invoker, and every ADD pays for start-up.
import { runPlugin } from '../../../specs/cni/skeleton.js';
import { hostLocalPlugin } from './host-local-handlers.js';

await runPlugin(hostLocalPlugin);
