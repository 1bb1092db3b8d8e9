import { startLoopbackRegistry, type LoopbackRegistry, type LoopbackRegistryOptions } from './loopback-registry.js';
import { provisionTestImages, type TestImageSet } from './provision-test-images.js';

/** A loopback registry holding every test image. */
export interface TestImageRegistry {
  readonly registry: LoopbackRegistry;
  readonly images: TestImageSet['images'];
  /** Stops the registry; its folder stays for the caller to remove. */
  stop(): Promise<void>;
}

/**
 * Starts a loopback docker-registry in `dir` and pushes the test images to it
 * (with the registry's credentials when it has basic auth). A runtime pulls
 * from it over plain http, so its host must be listed as insecure. The
 * registry is stopped again when provisioning fails.
 */
export async function startTestImageRegistry(options: LoopbackRegistryOptions): Promise<TestImageRegistry> {
  const registry = await startLoopbackRegistry(options);
  try {
    const set = await provisionTestImages(registry.host, { credentials: options.htpasswd });
    return { registry, images: set.images, stop: () => registry.stop() };
  } catch (error) {
    await registry.stop();
    throw error;
  }
}
