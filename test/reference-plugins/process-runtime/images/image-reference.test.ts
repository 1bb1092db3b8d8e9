import t from 'tap';
import { InvalidImageReferenceError } from '../../../../reference-plugins/process-runtime/images/image-errors.js';
import { formatImageReference, parseImageReference } from '../../../../reference-plugins/process-runtime/images/image-reference.js';

const digest = `sha256:${'a'.repeat(64)}`;

const normalized: readonly [string, string, { domain: string; path: string }][] = [
  ['busybox', 'docker.io/library/busybox:latest', { domain: 'docker.io', path: 'library/busybox' }],
  ['busybox:1.36', 'docker.io/library/busybox:1.36', { domain: 'docker.io', path: 'library/busybox' }],
  ['library/busybox', 'docker.io/library/busybox:latest', { domain: 'docker.io', path: 'library/busybox' }],
  ['user/app:v1', 'docker.io/user/app:v1', { domain: 'docker.io', path: 'user/app' }],
  ['docker.io/busybox', 'docker.io/library/busybox:latest', { domain: 'docker.io', path: 'library/busybox' }],
  ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', { domain: 'docker.io', path: 'library/busybox' }],
  ['registry.k8s.io/pause:3.9', 'registry.k8s.io/pause:3.9', { domain: 'registry.k8s.io', path: 'pause' }],
  ['127.0.0.1:5000/test/busybox:1', '127.0.0.1:5000/test/busybox:1', { domain: '127.0.0.1:5000', path: 'test/busybox' }],
  ['localhost/app', 'localhost/app:latest', { domain: 'localhost', path: 'app' }],
  ['localhost:5000/a/b/c:tag', 'localhost:5000/a/b/c:tag', { domain: 'localhost:5000', path: 'a/b/c' }],
  [`busybox@${digest}`, `docker.io/library/busybox@${digest}`, { domain: 'docker.io', path: 'library/busybox' }],
  [`busybox:1@${digest}`, `docker.io/library/busybox:1@${digest}`, { domain: 'docker.io', path: 'library/busybox' }],
  [`host:5000/x@${digest}`, `host:5000/x@${digest}`, { domain: 'host:5000', path: 'x' }],
  ['a-b.c.d/e__f.g-h:T.a-g', 'a-b.c.d/e__f.g-h:T.a-g', { domain: 'a-b.c.d', path: 'e__f.g-h' }],
];

for (const [input, expected, parts] of normalized) {
  t.test(`${input} normalizes to ${expected}`, async (t) => {
    const parsed = parseImageReference(input);
    t.equal(formatImageReference(parsed), expected);
    t.equal(parsed.domain, parts.domain);
    t.equal(parsed.path, parts.path);
  });
}

t.test('a reference without tag or digest gets latest; one with a digest only gets no tag', async (t) => {
  t.equal(parseImageReference('busybox').tag, 'latest');
  t.equal(parseImageReference(`busybox@${digest}`).tag, undefined);
  t.equal(parseImageReference(`busybox@${digest}`).digest, digest);
});

const invalid: readonly [string, RegExp][] = [
  ['', /empty/],
  [' busybox', /white space/],
  ['Busybox', /lowercase|malformed/],
  ['busybox:', /tag/],
  ['busybox:-x', /tag/],
  [`busybox:${'t'.repeat(129)}`, /tag/],
  ['busybox@sha256:abc', /sha256/],
  ['busybox@md5:0123', /not supported|malformed/],
  ['a'.repeat(64), /image ID/],
  ['docker.io/', /repository/],
  ['host:port/app', /port/],
  ['bad_host.com/app', /host/],
  ['foo//bar', /malformed/],
  ['foo/bar-', /malformed/],
  [':tag', /repository/],
  [`${'a'.repeat(250)}/bbbbbbb`, /longer than 255/],
];

for (const [input, reason] of invalid) {
  t.test(`${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)} is rejected naming why`, async (t) => {
    t.throws(() => parseImageReference(input), InvalidImageReferenceError);
    try {
      parseImageReference(input);
    } catch (error) {
      t.match((error as Error).message, reason);
      t.equal((error as InvalidImageReferenceError).reference, input);
    }
  });
}
