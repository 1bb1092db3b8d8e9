import crypto from 'node:crypto';
import t from 'tap';
import nock from 'nock';
import { RegistryError } from '../../../../reference-plugins/process-runtime/images/image-errors.js';
import { parseImageReference } from '../../../../reference-plugins/process-runtime/images/image-reference.js';
import { parseAuthenticateHeader, RegistryAuthenticator } from '../../../../reference-plugins/process-runtime/images/registry-auth.js';
import { manifestMediaTypes, RegistryClient } from '../../../../reference-plugins/process-runtime/images/registry-client.js';
import { readBody } from '../../../../reference-plugins/process-runtime/images/registry-http.js';
import { hostPlatform } from '../../../../reference-plugins/process-runtime/images/platform-match.js';

// nock stands in for registries and token services only in this file: it checks the exact HTTP
// exchanges of each authentication flow, which a real registry would not show.
nock.disableNetConnect();
nock.enableNetConnect(/127\.0\.0\.1/);
t.teardown(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});
t.afterEach(() => nock.cleanAll());

const digestOf = (bytes: Buffer | string): string => `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [] }, config: {} }));
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: manifestMediaTypes.ociManifest, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length }, layers: [] }));
const manifestHeaders = { 'content-type': manifestMediaTypes.ociManifest };
const reference = parseImageReference('reg.test/team/app:1');

t.test('WWW-Authenticate challenges are parsed with quoted and bare params', async (t) => {
  t.same(parseAuthenticateHeader('Bearer realm="https://auth.test/token",service="reg.test",scope="repository:a:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.test/token', service: 'reg.test', scope: 'repository:a:pull,push' } },
  ]);
  t.same(parseAuthenticateHeader('Basic realm=x, Bearer realm="y"'), [
    { scheme: 'basic', params: { realm: 'x' } },
    { scheme: 'bearer', params: { realm: 'y' } },
  ]);
});

t.test('a Basic challenge is answered with the credentials, which later requests send up front', async (t) => {
  const expected = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
  const scope = nock('https://reg.test')
    .get('/v2/team/app/manifests/1')
    .reply(401, '', { 'www-authenticate': 'Basic realm="reg"' })
    .get('/v2/team/app/manifests/1')
    .matchHeader('authorization', expected)
    .reply(200, manifest, manifestHeaders)
    .get(`/v2/team/app/blobs/${digestOf(config)}`)
    .matchHeader('authorization', expected)
    .reply(200, config);
  const client = new RegistryClient();
  const fetched = await client.fetchManifest(reference, '1', { username: 'alice', password: 'secret' });
  t.equal(fetched.digest, digestOf(manifest));
  const blob = await client.fetchBlob(reference, digestOf(config), { username: 'alice', password: 'secret' });
  t.same(await readBody(blob, 1 << 20), config);
  t.ok(scope.isDone());
});

t.test('CRI auth (base64 user:password) answers a Basic challenge', async (t) => {
  const scope = nock('https://reg.test')
    .get('/v2/team/app/manifests/1')
    .reply(401, '', { 'www-authenticate': 'Basic realm="reg"' })
    .get('/v2/team/app/manifests/1')
    .matchHeader('authorization', `Basic ${Buffer.from('bob:pw:with:colons').toString('base64')}`)
    .reply(200, manifest, manifestHeaders);
  await new RegistryClient().fetchManifest(reference, '1', { auth: Buffer.from('bob:pw:with:colons').toString('base64') });
  t.ok(scope.isDone());
});

t.test('a Bearer challenge gets a token with basic credentials, and the token is reused for the next requests', async (t) => {
  const auth = nock('https://auth.test')
    .get('/token')
    .query({ service: 'reg.test', scope: 'repository:team/app:pull' })
    .matchHeader('authorization', `Basic ${Buffer.from('alice:secret').toString('base64')}`)
    .once()
    .reply(200, { token: 'T1', expires_in: 300 });
  const registry = nock('https://reg.test')
    .get('/v2/team/app/manifests/1')
    .reply(401, '', { 'www-authenticate': 'Bearer realm="https://auth.test/token",service="reg.test",scope="repository:team/app:pull"' })
    .get('/v2/team/app/manifests/1')
    .matchHeader('authorization', 'Bearer T1')
    .reply(200, manifest, manifestHeaders)
    .get(`/v2/team/app/blobs/${digestOf(config)}`)
    .matchHeader('authorization', 'Bearer T1')
    .reply(200, config);
  const client = new RegistryClient();
  await client.fetchManifest(reference, '1', { username: 'alice', password: 'secret' });
  const blob = await client.fetchBlob(reference, digestOf(config), { username: 'alice', password: 'secret' });
  await readBody(blob, 1 << 20);
  t.ok(auth.isDone(), 'one token request');
  t.ok(registry.isDone());
});

t.test('an anonymous Bearer flow sends no credentials and reads access_token', async (t) => {
  const auth = nock('https://auth.test', { badheaders: ['authorization'] })
    .get('/token')
    .query({ service: 'reg.test', scope: 'repository:team/app:pull' })
    .reply(200, { access_token: 'A1' });
  const registry = nock('https://reg.test')
    .get('/v2/team/app/manifests/1')
    .reply(401, '', { 'www-authenticate': 'Bearer realm="https://auth.test/token",service="reg.test"' })
    .get('/v2/team/app/manifests/1')
    .matchHeader('authorization', 'Bearer A1')
    .reply(200, manifest, manifestHeaders);
  await new RegistryClient().fetchManifest(reference, '1');
  t.ok(auth.isDone());
  t.ok(registry.isDone());
});

t.test('an expired token is fetched again', async (t) => {
  let now = 1_000_000;
  const authenticator = new RegistryAuthenticator({ timeoutMs: 5000, now: () => now });
  const auth = nock('https://auth.test')
    .get('/token')
    .query(true)
    .reply(200, { token: 'OLD', expires_in: 60 })
    .get('/token')
    .query(true)
    .reply(200, { token: 'NEW', expires_in: 60 });
  const challenge = { 'www-authenticate': 'Bearer realm="https://auth.test/token",service="reg.test"' };
  const registry = nock('https://reg.test')
    .get('/v2/team/app/manifests/1')
    .reply(401, '', challenge)
    .get('/v2/team/app/manifests/1')
    .matchHeader('authorization', 'Bearer OLD')
    .reply(200, manifest, manifestHeaders)
    .get('/v2/team/app/manifests/1')
    .matchHeader('authorization', 'Bearer OLD')
    .reply(200, manifest, manifestHeaders)
    .get('/v2/team/app/manifests/1')
    .reply(401, '', challenge)
    .get('/v2/team/app/manifests/1')
    .matchHeader('authorization', 'Bearer NEW')
    .reply(200, manifest, manifestHeaders);
  const client = new RegistryClient({ authenticator });
  await client.fetchManifest(reference, '1');
  now += 30_000;
  await client.fetchManifest(reference, '1');
  now += 60_000;
  await client.fetchManifest(reference, '1');
  t.ok(auth.isDone(), 'two token requests: before and after expiry');
  t.ok(registry.isDone());
});

t.test('a registry token from CRI is sent as the bearer token without a token request', async (t) => {
  const registry = nock('https://reg.test')
    .get('/v2/team/app/manifests/1')
    .reply(401, '', { 'www-authenticate': 'Bearer realm="https://auth.test/token",service="reg.test"' })
    .get('/v2/team/app/manifests/1')
    .matchHeader('authorization', 'Bearer REG')
    .reply(200, manifest, manifestHeaders);
  await new RegistryClient().fetchManifest(reference, '1', { registryToken: 'REG' });
  t.ok(registry.isDone());
});

t.test('an identity token is traded for an access token with the OAuth2 refresh-token grant', async (t) => {
  const auth = nock('https://auth.test')
    .post('/token', (body: Record<string, string>) => body.grant_type === 'refresh_token' && body.refresh_token === 'ID' && body.service === 'reg.test' && body.scope === 'repository:team/app:pull')
    .reply(200, { access_token: 'AT' });
  const registry = nock('https://reg.test')
    .get('/v2/team/app/manifests/1')
    .reply(401, '', { 'www-authenticate': 'Bearer realm="https://auth.test/token",service="reg.test"' })
    .get('/v2/team/app/manifests/1')
    .matchHeader('authorization', 'Bearer AT')
    .reply(200, manifest, manifestHeaders);
  await new RegistryClient().fetchManifest(reference, '1', { identityToken: 'ID' });
  t.ok(auth.isDone());
  t.ok(registry.isDone());
});

const failures: readonly [string, () => void, Record<string, unknown>, RegExp][] = [
  ['wrong credentials', () => {
    nock('https://reg.test').get('/v2/team/app/manifests/1').twice().reply(401, '', { 'www-authenticate': 'Basic realm="reg"' });
  }, { kind: 'unauthorized', status: 401 }, /https:\/\/reg\.test\/v2\/team\/app\/manifests\/1: HTTP 401/],
  ['a refused token request', () => {
    nock('https://reg.test').get('/v2/team/app/manifests/1').reply(401, '', { 'www-authenticate': 'Bearer realm="https://auth.test/token"' });
    nock('https://auth.test').get('/token').query(true).reply(401);
  }, { kind: 'unauthorized' }, /token request to https:\/\/auth\.test\/token refused/],
  ['an unknown manifest', () => {
    nock('https://reg.test').get('/v2/team/app/manifests/1').reply(404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
  }, { kind: 'not-found', status: 404 }, /HTTP 404 \(MANIFEST_UNKNOWN: manifest unknown\)/],
  ['a forbidden repository', () => {
    nock('https://reg.test').get('/v2/team/app/manifests/1').reply(403);
  }, { kind: 'forbidden', status: 403 }, /HTTP 403/],
  ['a server error', () => {
    nock('https://reg.test').get('/v2/team/app/manifests/1').reply(500);
  }, { kind: 'bad-response', status: 500 }, /HTTP 500/],
];

for (const [what, arrange, fields, message] of failures) {
  t.test(`${what} is a RegistryError naming the URL and status`, async (t) => {
    arrange();
    await t.rejects(new RegistryClient().fetchManifest(reference, '1', { username: 'alice', password: 'wrong' }), { ...fields, message, name: 'RegistryError' });
  });
}

t.test('a Basic challenge without credentials is unauthorized, not retried', async (t) => {
  nock('https://reg.test').get('/v2/team/app/manifests/1').reply(401, '', { 'www-authenticate': 'Basic realm="reg"' });
  await t.rejects(new RegistryClient().fetchManifest(reference, '1'), { kind: 'unauthorized', message: /no credentials/ });
});

t.test('a manifest fetched by digest must have that digest', async (t) => {
  const wrong = digestOf('something else');
  nock('https://reg.test').get(`/v2/team/app/manifests/${wrong}`).reply(200, manifest, manifestHeaders);
  await t.rejects(new RegistryClient().fetchManifest(reference, wrong), { kind: 'digest-mismatch', message: /content has digest/ });
});

t.test('a blob redirect is followed without the registry credentials', async (t) => {
  const registry = nock('https://reg.test')
    .get(`/v2/team/app/blobs/${digestOf(config)}`)
    .reply(401, '', { 'www-authenticate': 'Basic realm="reg"' })
    .get(`/v2/team/app/blobs/${digestOf(config)}`)
    .reply(307, '', { location: 'https://storage.test/blob?sig=1' });
  const storage = nock('https://storage.test', { badheaders: ['authorization'] }).get('/blob').query({ sig: '1' }).reply(200, config);
  const blob = await new RegistryClient().fetchBlob(reference, digestOf(config), { username: 'a', password: 'b' });
  t.same(await readBody(blob, 1 << 20), config);
  t.ok(registry.isDone());
  t.ok(storage.isDone());
});

t.test('a mirror is asked first, and the registry itself when the mirror fails', async (t) => {
  const mirror = nock('http://mirror.test').get('/v2/library/busybox/manifests/latest').reply(200, manifest, manifestHeaders);
  const client = new RegistryClient({ registryMirrors: { 'docker.io': 'http://mirror.test/' } });
  await client.fetchManifest(parseImageReference('busybox'), 'latest');
  t.ok(mirror.isDone());
  const brokenMirror = nock('http://mirror.test').get('/v2/library/busybox/manifests/latest').reply(500);
  const upstream = nock('https://registry-1.docker.io').get('/v2/library/busybox/manifests/latest').reply(200, manifest, manifestHeaders);
  await client.fetchManifest(parseImageReference('busybox'), 'latest');
  t.ok(brokenMirror.isDone() && upstream.isDone());
});

t.test('when the mirror answers 404 and the registry is unreachable, the 404 is reported', async (t) => {
  nock('http://mirror.test').get('/v2/team/app/manifests/1').reply(404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
  const client = new RegistryClient({ registryMirrors: { 'reg.test': 'http://mirror.test' } });
  nock('https://reg.test').get('/v2/team/app/manifests/1').replyWithError('connect ECONNREFUSED');
  await t.rejects(client.fetchManifest(reference, '1'), { kind: 'not-found', message: /http:\/\/mirror\.test\/v2\/team\/app\/manifests\/1: HTTP 404/ });
});

t.test('insecure registries and loopback hosts are reached over http, others over https', async (t) => {
  const client = new RegistryClient({ insecureRegistries: ['reg.test:5000'] });
  t.same(client.endpointsOf('reg.test:5000'), ['http://reg.test:5000']);
  t.same(client.endpointsOf('127.0.0.1:5000'), ['http://127.0.0.1:5000']);
  t.same(client.endpointsOf('localhost:5000'), ['http://localhost:5000']);
  t.same(client.endpointsOf('reg.test'), ['https://reg.test']);
  t.same(client.endpointsOf('docker.io'), ['https://registry-1.docker.io']);
});

t.test('an image index resolves to this platform\'s manifest', async (t) => {
  const host = hostPlatform();
  const foreign = { os: 'linux', architecture: host.architecture === 's390x' ? 'amd64' : 's390x' };
  const other = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: digestOf('x'), size: 1 }, layers: [] }));
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: manifestMediaTypes.ociIndex,
    manifests: [
      { mediaType: manifestMediaTypes.ociManifest, digest: digestOf(other), size: other.length, platform: foreign },
      { mediaType: manifestMediaTypes.ociManifest, digest: digestOf(manifest), size: manifest.length, platform: host },
    ],
  }));
  const registry = nock('https://reg.test')
    .get('/v2/team/app/manifests/1')
    .reply(200, index, { 'content-type': manifestMediaTypes.ociIndex })
    .get(`/v2/team/app/manifests/${digestOf(manifest)}`)
    .reply(200, manifest, manifestHeaders);
  const resolved = await new RegistryClient().resolve(reference);
  t.equal(resolved.targetDigest, digestOf(index));
  t.equal(resolved.manifestDigest, digestOf(manifest));
  t.equal(resolved.manifests.length, 2);
  t.ok(registry.isDone());
});

t.test('an index without this platform is a no-matching-platform error', async (t) => {
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: manifestMediaTypes.ociManifest, digest: digestOf('x'), size: 1, platform: { os: 'windows', architecture: 'amd64' } }] }));
  nock('https://reg.test').get('/v2/team/app/manifests/1').reply(200, index, { 'content-type': manifestMediaTypes.ociIndex });
  await t.rejects(new RegistryClient().resolve(reference), { kind: 'no-matching-platform', message: /no manifest for platform linux\// });
});

t.test('a registry that is not listening is unreachable, naming the URL', async (t) => {
  const client = new RegistryClient({ timeoutMs: 2000 });
  const error = await client.fetchManifest(parseImageReference('127.0.0.1:1/app'), 'latest').catch((e: unknown) => e);
  t.type(error, RegistryError);
  t.match(error, { kind: 'unreachable', message: /GET http:\/\/127\.0\.0\.1:1\/v2\/app\/manifests\/latest: .*ECONNREFUSED/ });
});
