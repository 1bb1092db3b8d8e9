#!/usr/bin/env node
/**
 * kubeplug-cni-agent: the resident process that serves kubeplug's CNI
 * plugins (kubeplug-bridge, kubeplug-host-local) for the network namespace
 * it runs in. Run one per node, in the node's namespace; stop it with
 * SIGTERM. Usage: kubeplug-cni-agent [--dir DIR] [--no-exec-server]
 * (default dir $KUBEPLUG_CNI_AGENT_DIR or /run/kubeplug/cni-agent).
 * The bridge's helper commands and host-local's locks go through
 * kubeplug-netns-exec (built next to this file from netns-exec-server.c)
 * unless it is missing or --no-exec-server is given; then they run as
 * child processes (ip, nsenter, flock), as in a standalone plugin.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createBridgePlugin } from '../bridge/bridge-plugin.js';
import { createHostLocalPlugin } from '../host-local/host-local-handlers.js';
import { agentDirFrom, execServerSocketPath, netnsInode } from './agent-socket.js';
import { CniNodeAgent } from './cni-node-agent.js';
import { NetnsExecService } from './netns-exec-service.js';

const usage = 'usage: kubeplug-cni-agent [--dir DIR] [--no-exec-server]\n';
const args = process.argv.slice(2);
let dir = agentDirFrom(process.env);
let useExecServer = true;
for (let index = 0; index < args.length; index += 1) {
  const arg = args[index];
  const value = args[index + 1];
  if (arg === '--dir' && value !== undefined) {
    dir = value;
    index += 1;
  } else if (arg === '--no-exec-server') {
    useExecServer = false;
  } else {
    process.stderr.write(usage);
    process.exit(2);
  }
}
const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);
const executable = fileURLToPath(new URL('./kubeplug-netns-exec', import.meta.url));
const execService =
  useExecServer && fs.existsSync(executable) ? new NetnsExecService({ executable, socketPath: execServerSocketPath(dir, netnsInode('self')), log }) : undefined;
const services = execService === undefined ? {} : { launcher: execService, locker: execService.lock };
const agent = new CniNodeAgent({
  dir,
  plugins: { 'kubeplug-bridge': createBridgePlugin(services), 'kubeplug-host-local': createHostLocalPlugin(services) },
  log,
});
try {
  const socketPath = await agent.start();
  // After the agent holds its socket, so a second agent never replaces the first one's exec server.
  if (execService !== undefined) {
    await execService.start().catch((error: unknown) => log(`kubeplug-netns-exec did not start (${String(error)}); commands run as child processes`));
  } else {
    log(useExecServer ? `${executable} is not built; commands run as child processes` : 'exec server off; commands run as child processes');
  }
  process.stdout.write(`kubeplug-cni-agent: serving ${socketPath}\n`);
} catch (error) {
  process.stderr.write(`kubeplug-cni-agent: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void agent
      .stop()
      .then(() => execService?.stop())
      .then(() => process.exit(0));
  });
}
