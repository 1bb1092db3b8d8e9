import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cliPath, runCli } from '../../helpers/run-cli.js';
import { clientsFor, rpcs, scratch, skipUnlessRoot } from './dir-volume-fixture.js';

const skip = fs.existsSync(cliPath) ? skipUnlessRoot : 'needs the build (npm run build)';

// Each row: the arguments after `serve csi`, the flag the one-line error must name.
const usageErrors: [title: string, args: string[], flag: RegExp][] = [
  ['no --node-id', ['--endpoint', 'unix:///tmp/kp-none.sock', '--root', '/tmp/kp-none'], /node-id/],
  ['a --node-id that cannot be a topology value', ['--endpoint', 'unix:///tmp/kp-none.sock', '--root', '/tmp/kp-none', '--node-id=-bad-'], /--node-id/],
  ['a --capacity that is not a whole number', ['--endpoint', 'unix:///tmp/kp-none.sock', '--root', '/tmp/kp-none', '--node-id', 'n1', '--capacity', '1.5'], /--capacity/],
  ['an --endpoint that is not a unix socket', ['--endpoint', 'tcp://127.0.0.1:1', '--root', '/tmp/kp-none', '--node-id', 'n1'], /--endpoint/],
];

t.test('kubeplug serve csi exits 2 with one line naming the flag on a usage error', { skip }, async (t) => {
  // Started side by side: each is a whole Node start, and they share nothing.
  const outcomes = await Promise.all(usageErrors.map(([, args]) => runCli(['serve', 'csi', ...args])));
  for (const [index, [title, , flag]] of usageErrors.entries()) {
    const { code, stderr } = outcomes[index]!;
    t.equal(code, 2, `${title}: exit 2`);
    t.match(stderr, flag, `${title}: the message names the flag`);
    t.equal(stderr.trim().split('\n').length, 1, `${title}: one line`);
  }
  t.notOk(fs.existsSync('/tmp/kp-none'), 'a refused start creates no state folder');
});

t.test('kubeplug serve csi prints ready <socket>, serves, and on SIGTERM stops and removes its socket', { skip }, async (t) => {
  const where = scratch(t);
  const child = spawn(process.execPath, [cliPath, 'serve', 'csi', '--endpoint', `unix://${where.socket}`, '--root', where.root, '--node-id', 'node-9', '--max-volumes-per-node', '3'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  t.equal(line.toString(), `ready ${where.socket}\n`, 'one ready line naming the socket');
  t.equal(fs.statSync(where.socket).mode & 0o777, 0o600, 'the socket is mode 0600');
  const csi = rpcs(clientsFor(t, `unix://${where.socket}`));
  t.match(await csi.nodeInfo(), { nodeId: 'node-9', maxVolumesPerNode: 3n }, 'NodeGetInfo reports the flags');
  t.same((await csi.probe()).ready, true, 'Probe says ready');
  child.kill('SIGTERM');
  const [code] = await exited;
  t.equal(code, 0, 'exit 0 after SIGTERM');
  t.notOk(fs.existsSync(where.socket), 'the socket is removed');
  t.ok(fs.existsSync(path.join(where.root, 'volumes')), 'the state folder stays');
});
