import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A fresh folder under the system temp dir, removed in teardown. Short paths
 * on purpose: a unix socket path must fit in 108 bytes.
 */
export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'kp-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
