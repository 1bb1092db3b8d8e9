import fs from 'node:fs';
import path from 'node:path';
import type { AuthConfig } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, requireOk } from './expect-status.js';
import { imageStatus, pullImageOutcome, pushCaseImage, type PushedImage } from './image-pushes.js';
import { registryUnavailable, startLoopbackRegistry, testRegistryCredentials } from './test-images/index.js';

type Ctx = CaseContext<CriSubject>;

/** An AuthConfig with every field empty but those given. */
function authConfig(fields: Partial<AuthConfig>): AuthConfig {
  return { username: '', password: '', auth: '', serverAddress: '', identityToken: '', registryToken: '', ...fields };
}

/**
 * Starts a registry on 127.0.0.1 that demands the test credentials, pushes an
 * image of the case's own to it, and registers the registry's stop (after
 * the image's removal from the runtime). The runtime must reach the
 * machine's loopback, as it does for the run's own registry; a run whose
 * registry is elsewhere skips the case.
 */
async function imageBehindAuth(ctx: Ctx): Promise<PushedImage> {
  if (!/^(127\.0\.0\.1|localhost)(:\d+)?$/.test(ctx.subject.run.registry)) {
    ctx.skip(`the run's registry ${ctx.subject.run.registry} is not on this machine's loopback, so a registry the suite starts here may be out of the runtime's reach`);
  }
  const unavailable = registryUnavailable();
  if (unavailable !== undefined) ctx.skip(unavailable);
  const dir = path.join(ctx.subject.run.workDir, 'auth-registries', ctx.uniqueName('kp-auth'));
  fs.mkdirSync(dir, { recursive: true });
  ctx.defer(() => fs.rmSync(dir, { recursive: true, force: true }), `remove ${dir}`);
  const registry = await startLoopbackRegistry({ dir, htpasswd: testRegistryCredentials });
  ctx.defer(() => registry.stop(), `stop the registry at ${registry.host}`);
  ctx.note(`started a registry at ${registry.host} that demands basic authentication`);
  return pushCaseImage(ctx, { registry: registry.host, credentials: testRegistryCredentials });
}

/** Error messages that say the registry was never reached (Go's net errors, Node's errno names). */
const unreachable = /ECONNREFUSED|connection refused|no route to host|network is unreachable|EHOSTUNREACH|ENETUNREACH/i;

/**
 * Pulls without credentials, which must fail; when it fails because the
 * runtime cannot reach the registry at all (an isolated node relays only the
 * run's own registry), the case is skipped: the environment, not the rule,
 * decided the outcome.
 */
async function anonymousPull(ctx: Ctx, reference: string): Promise<Awaited<ReturnType<typeof pullImageOutcome>>> {
  const anonymous = await pullImageOutcome(ctx, reference);
  if (!anonymous.ok && unreachable.test(anonymous.error.message)) {
    ctx.skip(`the runtime cannot reach the registry the suite started on this machine's loopback (${anonymous.error.message}); give the runtime access to it`);
  }
  return anonymous;
}

/** Declares the registry authentication cases (specs/cri/SPEC.md, CRI-IMAGE-024 to 026). */
export function declareImageAuthCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-IMAGE-024', 'CRI-IMAGE-026'],
    title: 'A registry that demands credentials refuses pulls without them and serves pulls with username and password',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const pushed = await imageBehindAuth(ctx);
      const reference = pushed.tagged[0] ?? '';
      const anonymous = await anonymousPull(ctx, reference);
      ctx.check(!anonymous.ok, { ids: ['CRI-IMAGE-026'], what: 'PullImage without credentials fails', expected: 'an error', got: describeOutcome(anonymous) });
      const wrong = await pullImageOutcome(ctx, reference, { auth: authConfig({ username: testRegistryCredentials.user, password: 'not-the-password' }) });
      ctx.check(!wrong.ok, { ids: ['CRI-IMAGE-026'], what: 'PullImage with a wrong password fails', expected: 'an error', got: describeOutcome(wrong) });
      const leftover = await imageStatus(ctx, reference);
      ctx.check(leftover.ok && leftover.response.image === undefined, {
        ids: ['CRI-IMAGE-026'],
        what: 'the refused pulls leave no image',
        expected: 'OK, image unset',
        got: leftover.ok ? (leftover.response.image === undefined ? 'image unset' : leftover.response.image.id) : describeOutcome(leftover),
      });
      const pulled = await pullImageOutcome(ctx, reference, {
        auth: authConfig({ username: testRegistryCredentials.user, password: testRegistryCredentials.password }),
      });
      requireOk(ctx, pulled, { ids: ['CRI-IMAGE-024'], what: 'PullImage with the right username and password succeeds' });
      const status = await imageStatus(ctx, reference);
      ctx.check(status.ok && status.response.image?.id === pulled.response.imageRef, {
        ids: ['CRI-IMAGE-024'],
        what: 'the image pulled with credentials is present',
        expected: pulled.response.imageRef,
        got: status.ok ? (status.response.image?.id ?? 'image unset') : describeOutcome(status),
      });
    },
  });

  suite.declare({
    ids: ['CRI-IMAGE-025'],
    title: 'A pull with credentials only in the encoded auth field succeeds',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const pushed = await imageBehindAuth(ctx);
      await anonymousPull(ctx, pushed.tagged[0] ?? '');
      const encoded = Buffer.from(`${testRegistryCredentials.user}:${testRegistryCredentials.password}`).toString('base64');
      const pulled = await pullImageOutcome(ctx, pushed.tagged[0] ?? '', { auth: authConfig({ auth: encoded }) });
      requireOk(ctx, pulled, { ids: ['CRI-IMAGE-025'], what: 'PullImage with auth = base64(user:password) and no username or password succeeds' });
      const status = await imageStatus(ctx, pushed.tagged[0] ?? '');
      ctx.check(status.ok && status.response.image?.id === pulled.response.imageRef, {
        ids: ['CRI-IMAGE-025'],
        what: 'the image pulled with the encoded auth field is present',
        expected: pulled.response.imageRef,
        got: status.ok ? (status.response.image?.id ?? 'image unset') : describeOutcome(status),
      });
    },
  });
}
