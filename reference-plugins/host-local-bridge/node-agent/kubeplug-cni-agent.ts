#!/usr/bin/env node
/**
 * kubeplug-cni-agent: the resident process that serves kubeplug's CNI
 * plugins (kubeplug-bridge, kubeplug-host-local) for the network namespace
 * it runs in. Run one per node, in the node's namespace; stop it with
 * SIGTERM. Usage: kubeplug-cni-agent [--dir DIR] (default
 * $KUBEPLUG_CNI_AGENT_DIR or /run/kubeplug/cni-agent).
 */
import { bridgePlugin } from '../bridge/bridge-plugin.js';
import { hostLocalPlugin } from '../host-local/host-local-handlers.js';
import { agentDirFrom } from './agent-socket.js';
import { CniNodeAgent } from './cni-node-agent.js';

const args = process.argv.slice(2);
const dirFlag = args.indexOf('--dir');
if (args.some((arg, index) => arg !== '--dir' && index !== dirFlag + 1) || (dirFlag >= 0 && args[dirFlag + 1] === undefined)) {
  process.stderr.write('usage: kubeplug-cni-agent [--dir DIR]\n');
  process.exit(2);
}
const dir = dirFlag >= 0 ? (args[dirFlag + 1] as string) : agentDirFrom(process.env);
const agent = new CniNodeAgent({
  dir,
  plugins: { 'kubeplug-bridge': bridgePlugin, 'kubeplug-host-local': hostLocalPlugin },
  log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
});
try {
  const socketPath = await agent.start();
  process.stdout.write(`kubeplug-cni-agent: serving ${socketPath}\n`);
} catch (error) {
  process.stderr.write(`kubeplug-cni-agent: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void agent.stop().then(() => process.exit(0));
  });
}
