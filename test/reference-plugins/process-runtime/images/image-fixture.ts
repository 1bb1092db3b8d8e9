import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { provisionTestImages, registryUnavailable, startLoopbackRegistry, testImagesUnavailable, type LoopbackRegistry, type TestImageSet } from '../../../../conformance/cri/test-images/index.js';
import type { RegistryCredentials } from '../../../../conformance/cri/test-images/index.js';
import { ImageStore, type ImageStoreOptions } from '../../../../reference-plugins/process-runtime/images/image-store.js';

/** Why the integration tests cannot run here, or false. */
export const skipWithoutRegistry: string | false = registryUnavailable() ?? testImagesUnavailable() ?? (process.getuid?.() === 0 ? false : 'needs root (whiteouts are character devices)');

/** A temp folder removed at teardown. */
export function tempDir(t: Test, label = 'images'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kubeplug-${label}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A loopback docker-registry (stopped by pid at teardown) holding the CRI test images. */
export async function startRegistryWithImages(t: Test, options: { credentials?: RegistryCredentials } = {}): Promise<{ registry: LoopbackRegistry; images: TestImageSet }> {
  const registry = await startLoopbackRegistry({ dir: tempDir(t, 'registry'), htpasswd: options.credentials });
  t.teardown(() => registry.stop());
  const images = await provisionTestImages(registry.host, { credentials: options.credentials });
  return { registry, images };
}

/** An image store in a fresh temp root. */
export async function openTestStore(t: Test, options: Partial<ImageStoreOptions> = {}): Promise<{ store: ImageStore; root: string; notes: string[] }> {
  const root = path.join(tempDir(t, 'store'), 'images');
  const notes: string[] = [];
  const store = await ImageStore.open({ root, log: (line) => notes.push(line), ...options });
  return { store, root, notes };
}
