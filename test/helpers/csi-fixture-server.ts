import path from 'node:path';
import { serve, type RunningServer } from '../../specs/csi/index.js';
import type { IdentityFixture } from '../../conformance/fixtures/csi-identity/identity-fixtures.js';
import { tempDir } from './temp-dir.js';

/** Serves a fixture in this process on a fresh socket, closed in teardown. */
export async function serveFixture(
  t: { teardown(fn: () => unknown): void },
  fixture: IdentityFixture,
  socketName = 'csi.sock',
  dir = tempDir(t),
): Promise<{ endpoint: string; server: RunningServer; dir: string }> {
  const endpoint = `unix://${path.join(dir, socketName)}`;
  const server = await serve({ endpoint, services: fixture.services() });
  t.teardown(() => server.close());
  return { endpoint, server, dir };
}
