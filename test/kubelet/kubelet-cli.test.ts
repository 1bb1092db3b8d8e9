import fs from 'node:fs';
import t from 'tap';
import { cliPath, runCli } from '../helpers/run-cli.js';

// `kubeplug kubelet` refuses bad flags before it touches anything: exit 2 and one line naming the flag.

const skip = fs.existsSync(cliPath) ? false : `${cliPath} is not built (run npm run build)`;

const base = ['kubelet', '--pod-manifest-path', '/tmp/none', '--container-runtime-endpoint', 'unix:///tmp/kp-no-such-cri.sock', '--root-dir', '/tmp/kp-root', '--node-name', 'n1', '--read-only-port', '0'];

function withFlag(flag: string, value: string): string[] {
  const at = base.indexOf(flag);
  return at < 0 ? [...base, flag, value] : [...base.slice(0, at + 1), value, ...base.slice(at + 2)];
}

const cases: { name: string; args: string[]; flag: RegExp }[] = [
  { name: 'a missing --node-name', args: base.filter((_arg, index) => index !== base.indexOf('--node-name') && index !== base.indexOf('--node-name') + 1), flag: /node-name/ },
  { name: 'a runtime endpoint that is not unix://', args: withFlag('--container-runtime-endpoint', 'tcp://127.0.0.1:1'), flag: /--container-runtime-endpoint/ },
  { name: 'an image endpoint that is not unix://', args: withFlag('--image-service-endpoint', '/tmp/x.sock'), flag: /--image-service-endpoint/ },
  { name: 'a CSI endpoint without a driver name', args: withFlag('--csi-endpoint', 'unix:///tmp/csi.sock'), flag: /--csi-endpoint/ },
  { name: 'a node name that is not a DNS subdomain', args: withFlag('--node-name', 'Node_1'), flag: /--node-name/ },
  { name: 'a port out of range', args: withFlag('--read-only-port', '70000'), flag: /--read-only-port/ },
  { name: 'an address that is not an IP', args: withFlag('--address', 'localhost'), flag: /--address/ },
  { name: 'a zero restart period', args: withFlag('--max-container-restart-period', '0'), flag: /--max-container-restart-period/ },
  { name: 'a sync frequency of zero', args: withFlag('--sync-frequency', '0'), flag: /--sync-frequency/ },
  { name: 'a peer kubelet that is not http:// or unix://', args: withFlag('--peer-kubelet', 'https://10.0.0.2:10250'), flag: /--peer-kubelet/ },
  { name: 'a peer kubelet with a path', args: withFlag('--peer-kubelet', 'http://10.0.0.2:10255/pods'), flag: /--peer-kubelet/ },
  { name: 'a runtime endpoint nobody serves', args: base, flag: /--container-runtime-endpoint: cannot reach/ },
];

for (const { name, args, flag } of cases) {
  t.test(`${name} is a usage error naming the flag`, { skip }, async (t) => {
    const result = await runCli(args, { timeoutMs: 30_000 });
    t.equal(result.code, 2, result.stderr);
    t.match(result.stderr, flag);
    t.notMatch(result.stderr, /internal error|    at /, 'no stack trace');
  });
}
