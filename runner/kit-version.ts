import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../specs/registry/index.js';

/** kubeplug's own version, from its package.json. */
export function kitVersion(): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return manifest.version ?? '0.0.0';
}
