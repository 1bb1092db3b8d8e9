import fs from 'node:fs';
import { startLoopbackRegistry } from './test-images/loopback-registry.js';
import { pushImage } from './test-images/push-image.js';
import { buildTestImage, testImageUser, type TestImageConfig } from './test-images/test-image.js';

/** The file a command that traps signals touches once its traps are set (a shell as PID 1 ignores a signal that comes before its trap). */
export const trapsReadyFile = '/tmp/kp-traps-ready';

/** The references of the images the runtime, sandbox and container cases run, pushed to the run's registry. */
export interface SuiteImages {
  /** Busybox with the test images' default config (`/bin/sh -c` entrypoint, a loop that exits 0 on SIGTERM). */
  readonly busybox: string;
  /** Entrypoint, Cmd, Env and WorkingDir of its own, for the composition cases. @see composedImageConfig */
  readonly composed: string;
  /** Runs as the image's `kubeplug` user (USER kubeplug). */
  readonly asUser: string;
  /** STOPSIGNAL SIGUSR1; its command exits 7 on SIGUSR1 and 9 on SIGTERM, and touches the traps-ready file once they are set. */
  readonly stopSignal: string;
}

/** The config of {@link SuiteImages.composed}: what a container inherits unless its config overrides it. */
export const composedImageConfig = {
  Env: ['PATH=/bin:/usr/bin', 'KP_FROM_IMAGE=image-value', 'KP_OVERRIDDEN=image-value'],
  Entrypoint: ['/bin/echo', 'image-entrypoint'],
  Cmd: ['image-cmd-1', 'image-cmd-2'],
  WorkingDir: '/tmp',
} as const satisfies TestImageConfig;

/** The image user of {@link SuiteImages.asUser}. */
export const imageUser = testImageUser;

/** A running registry holding the suite's images, and how to stop it. */
export interface ProvisionedImages {
  readonly registry: string;
  readonly images: SuiteImages;
  /** Stops the registry the suite started (nothing for a given one); idempotent. */
  stop(): Promise<void>;
}

const repository = 'kubeplug-cri-suite';

/**
 * Builds the suite's images from Debian's static busybox and pushes them to
 * `registry`, or to a registry started on 127.0.0.1 with its storage in
 * `dir` when none is given.
 */
export async function provisionSuiteImages(options: { registry?: string; dir: string }): Promise<ProvisionedImages> {
  let stop = async (): Promise<void> => {};
  let registry = options.registry;
  if (registry === undefined) {
    fs.mkdirSync(options.dir, { recursive: true });
    const started = await startLoopbackRegistry({ dir: options.dir });
    registry = started.host;
    stop = () => started.stop();
  }
  try {
    const builds: Record<keyof SuiteImages, TestImageConfig> = {
      busybox: {},
      composed: composedImageConfig,
      asUser: { User: imageUser.name },
      stopSignal: { StopSignal: 'SIGUSR1', Cmd: [`trap "exit 7" USR1; trap "exit 9" TERM; touch ${trapsReadyFile}; while :; do sleep 1; done`] },
    };
    const images = {} as Record<keyof SuiteImages, string>;
    for (const [role, config] of Object.entries(builds) as [keyof SuiteImages, TestImageConfig][]) {
      const image = buildTestImage({ name: `cri-suite-${role}`, config });
      const name = `${repository}/${role.toLowerCase()}`;
      await pushImage({ registryHost: registry, repository: name }, image, '1');
      images[role] = `${registry}/${name}:1`;
    }
    return { registry, images, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
