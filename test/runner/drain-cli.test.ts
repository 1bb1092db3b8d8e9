import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { cliPath, runCli } from '../helpers/run-cli.js';

// `kubeplug drain` and `uncordon` refuse bad flags before they touch any kubelet: exit 2 and one line naming the flag.

const skip = fs.existsSync(cliPath) ? false : `${cliPath} is not built (run npm run build)`;

const cases: { name: string; args: string[]; flag: RegExp }[] = [
  { name: 'drain without --kubelet', args: ['drain'], flag: /--kubelet is required/ },
  { name: 'uncordon without --kubelet', args: ['uncordon'], flag: /--kubelet is required/ },
  { name: 'a kubelet URL over https', args: ['drain', '--kubelet', 'https://10.0.0.2:10250'], flag: /--kubelet: expected http:\/\/HOST:PORT or unix:\/\/\/path\/to\/socket, not "https:\/\/10\.0\.0\.2:10250"/ },
  { name: 'a relative unix socket', args: ['uncordon', '--kubelet', 'unix://ro.sock'], flag: /--kubelet: expected http:\/\/HOST:PORT or unix:\/\/\/path/ },
  { name: 'a timeout that is not a duration', args: ['drain', '--kubelet', 'unix:///tmp/x.sock', '--timeout', 'soon'], flag: /--timeout: expected a duration such as 90s, 5m, 1h30m or a number of seconds, not "soon"/ },
  { name: 'a negative timeout', args: ['drain', '--kubelet', 'unix:///tmp/x.sock', '--timeout=-5s'], flag: /--timeout: .* not "-5s"/ },
  { name: 'a grace period that is not a number', args: ['drain', '--kubelet', 'unix:///tmp/x.sock', '--grace-period', 'ten'], flag: /--grace-period must be a whole number of seconds .* not "ten"/ },
  { name: 'a fractional grace period', args: ['drain', '--kubelet', 'unix:///tmp/x.sock', '--grace-period', '1.5'], flag: /--grace-period must be a whole number of seconds .* not "1\.5"/ },
  { name: 'an unknown flag', args: ['drain', '--kubelet', 'unix:///tmp/x.sock', '--force'], flag: /Unknown argument: force/ },
];

for (const { name, args, flag } of cases) {
  t.test(`${name} is a usage error naming the flag`, { skip }, async (t) => {
    const result = await runCli(args, { timeoutMs: 30_000 });
    t.equal(result.code, 2, result.stderr);
    t.match(result.stderr, flag);
    t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
    t.notMatch(result.stderr, /internal error|    at /, 'no stack trace');
  });
}

t.test('a kubelet socket nobody serves is reported naming the kubelet, exit 1', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-drain-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socket = `unix://${path.join(dir, 'nobody.sock')}`;
  for (const command of ['drain', 'uncordon']) {
    const result = await runCli([command, '--kubelet', socket], { timeoutMs: 30_000 });
    t.equal(result.code, 1, `${command}: ${result.stderr}`);
    t.match(result.stdout, new RegExp(`kubelet ${socket}\\) not (drained|uncordoned): .*kubelet ${socket}: GET /api/v1/nodes: cannot reach the kubelet: .*ENOENT`), command);
    t.notMatch(result.stderr, /internal error|    at /, 'no stack trace');
  }
});
