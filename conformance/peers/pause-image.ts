import { pushImage } from '../cri/test-images/push-image.js';
import { buildTestImage } from '../cri/test-images/test-image.js';

/** Repository and tag of the sandbox (pause) image a containerd node pulls, inside whatever registry it is pushed to. */
export const pauseImageName = 'kubeplug-test/pause:1';

/**
 * The command of the pause image and of benchmark containers: sleeps until
 * SIGTERM or SIGINT and then exits 0 at once (`wait` is interrupted by the
 * signal, where a `sleep` in the foreground would delay the trap).
 */
export const sleepUntilTermCommand = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; sleep 2147483647 & wait'] as const;

/**
 * Pushes a busybox pause image to a plain-http registry at `registryHost`
 * (`127.0.0.1:PORT`) and returns its reference, for containerd's
 * sandbox_image; upstream's registry.k8s.io/pause cannot be reached offline.
 */
export async function pushPauseImage(registryHost: string): Promise<string> {
  const colon = pauseImageName.lastIndexOf(':');
  const image = buildTestImage({ name: pauseImageName, config: { Entrypoint: [...sleepUntilTermCommand], Cmd: [] } });
  await pushImage({ registryHost, repository: pauseImageName.slice(0, colon) }, image, pauseImageName.slice(colon + 1));
  return `${registryHost}/${pauseImageName}`;
}
