import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import {
  attachModeRequiredFlags,
  checkKubeletAnswers,
  kubeletCertifyMode,
  KubeletRunConfigError,
  loadKubeletAttachSettings,
  parseKubeletUrl,
  type KubeletAttachInput,
} from '../../conformance/kubelet/index.js';
import { tempDir } from '../helpers/temp-dir.js';

// The attached mode's flags of `certify kubelet`, checked before anything is
// written, pushed or run: which mode the flags ask for, each flag's shape,
// and that the kubelet's /healthz answers.

const required = new Set<string>(attachModeRequiredFlags);

t.test('the flags given decide the mode: none of the attached ones means the harness starts the kubelet', async (t) => {
  t.equal(kubeletCertifyMode(new Set()), 'spawn');
  t.equal(kubeletCertifyMode(new Set(['--kubelet-cmd', '--runtime', '--registry'])), 'spawn', '--registry belongs to both modes');
  t.equal(kubeletCertifyMode(required), 'attach');
  t.equal(kubeletCertifyMode(new Set([...required, '--csi-driver', '--root-dir', '--host-path-dir'])), 'attach');
});

t.test('a flag of the other mode is refused, naming both flags', async (t) => {
  for (const flag of ['--kubelet-cmd', '--runtime']) {
    t.throws(() => kubeletCertifyMode(new Set([...required, flag])), { constructor: KubeletRunConfigError, message: new RegExp(`^${flag} cannot be used with --manifest-dir`) }, flag);
  }
  t.throws(() => kubeletCertifyMode(new Set(['--kubelet-cmd', '--host-path-dir'])), { message: /^--kubelet-cmd cannot be used with --host-path-dir/ });
});

t.test('attaching without one of the required flags is refused, naming the missing one', async (t) => {
  for (const flag of attachModeRequiredFlags) {
    const given = new Set([...required].filter((other) => other !== flag));
    t.throws(() => kubeletCertifyMode(given), { constructor: KubeletRunConfigError, message: new RegExp(`^${flag} is required to attach to a running kubelet`) }, flag);
  }
});

t.test('kubelet URLs are http://HOST:PORT or unix:///path, nothing else', async (t) => {
  t.match(parseKubeletUrl('http://10.0.0.5:10255'), { kind: 'http', host: '10.0.0.5', port: 10255 });
  t.match(parseKubeletUrl('http://[fd00::1]:10255/'), { kind: 'http', host: 'fd00::1', port: 10255 });
  t.match(parseKubeletUrl('unix:///run/kubelet/read-only.sock'), { kind: 'unix', socketPath: '/run/kubelet/read-only.sock' });
  for (const [bad, message] of [
    ['http://node-1', /names no port/],
    ['http://node-1:10255/pods', /nothing after the port/],
    ['https://node-1:10250', /only http:\/\//],
    ['unix://relative.sock', /unix:\/\/\/absolute\/path/],
    ['node-1:10255', /only http:\/\//],
    ['', /neither/],
  ] as const) {
    t.throws(() => parseKubeletUrl(bad), { name: 'KubeletUrlError', message }, JSON.stringify(bad));
  }
});

t.test('the attached flags are checked one by one, each error naming its flag', async (t) => {
  const dir = tempDir(t, 'kp-kattach-');
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  const good: KubeletAttachInput = {
    manifestDir: dir,
    kubeletUrl: 'unix:///run/kubelet.sock',
    nodeName: 'node-1',
    runtimeEndpoint: 'unix:///run/containerd/containerd.sock',
    registry: '10.0.0.1:5000',
  };
  const table: [string, Partial<KubeletAttachInput>, RegExp][] = [
    ['a manifest folder that does not exist', { manifestDir: path.join(dir, 'nope') }, /^--manifest-dir: .*nope does not exist/],
    ['a manifest "folder" that is a file', { manifestDir: file }, /^--manifest-dir: .* is not a folder/],
    ['a manifest folder nothing can be written in', { manifestDir: '/proc' }, /^--manifest-dir: cannot write in \/proc/],
    ['a kubelet URL of another scheme', { kubeletUrl: 'tcp://node:10255' }, /^--kubelet-url: /],
    ['a node name with upper case', { nodeName: 'Node_1' }, /^--node-name: /],
    ['a runtime endpoint that is not unix://', { runtimeEndpoint: 'tcp://127.0.0.1:1' }, /^--runtime-endpoint: /],
    ['a registry with a scheme', { registry: 'http://10.0.0.1:5000' }, /^--registry: /],
    ['a registry without a port', { registry: 'registry.example' }, /^--registry: /],
    ['a CSI driver name with a slash', { csiDriver: 'a/b' }, /^--csi-driver: /],
    ['a root dir that does not exist', { rootDir: path.join(dir, 'no-root') }, /^--root-dir: .* does not exist/],
    ['a host path dir that is a file', { hostPathDir: file }, /^--host-path-dir: .* is not a folder/],
    ['a restart period of 0', { maxRestartPeriodSeconds: 0 }, /^--max-restart-period /],
  ];
  for (const [what, change, message] of table) {
    t.throws(() => loadKubeletAttachSettings({ ...good, ...change }), { constructor: KubeletRunConfigError, message }, what);
  }
  t.same(fs.readdirSync(dir), ['a-file'], 'no write probe is left in the folder');
});

t.test('good attached flags come back absolute, with upstream restart period and nothing unknown filled in', async (t) => {
  const dir = tempDir(t, 'kp-kattach-');
  const relative = path.relative(process.cwd(), dir);
  const settings = loadKubeletAttachSettings({
    manifestDir: relative,
    kubeletUrl: 'http://127.0.0.1:10255',
    nodeName: 'node-1',
    runtimeEndpoint: 'unix:///run/containerd/containerd.sock',
    registry: 'localhost:5000',
  });
  t.match(settings, { manifestDir: dir, nodeName: 'node-1', registry: 'localhost:5000', maxRestartPeriodSeconds: 300, kubeletUrl: { kind: 'http', port: 10255 } });
  t.notOk('rootDir' in settings || 'hostPathDir' in settings || 'csiDriver' in settings, 'unknown folders and driver stay unset');
  t.same(fs.readdirSync(dir), [], 'the write probe is removed');
});

/** Serves `status` and `body` for every request on a unix socket; closed in teardown. */
async function answeringSocket(t: { teardown(fn: () => unknown): void }, dir: string, status: number, body: string): Promise<string> {
  const socketPath = path.join(dir, 'kubelet.sock');
  const server = http.createServer((request, response) => {
    response.statusCode = request.url === '/healthz' ? status : 404;
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return socketPath;
}

t.test('a kubelet whose /healthz answers 200 is accepted', async (t) => {
  const socketPath = await answeringSocket(t, tempDir(t, 'kp-kattach-'), 200, 'ok');
  t.match(await checkKubeletAnswers(parseKubeletUrl(`unix://${socketPath}`)), { status: 200, body: 'ok' });
});

t.test('a kubelet whose /healthz answers otherwise, or nothing at all, is refused naming --kubelet-url', async (t) => {
  const dir = tempDir(t, 'kp-kattach-');
  const socketPath = await answeringSocket(t, dir, 500, 'unhealthy');
  await t.rejects(checkKubeletAnswers(parseKubeletUrl(`unix://${socketPath}`)), { constructor: KubeletRunConfigError, message: /^--kubelet-url: GET \/healthz on unix:\/\/.* answered 500 unhealthy/ });
  await t.rejects(checkKubeletAnswers(parseKubeletUrl(`unix://${path.join(dir, 'absent.sock')}`)), { constructor: KubeletRunConfigError, message: /^--kubelet-url: .* failed: .*ENOENT/ });
});
