/**
 * The kubelet suite's test image: Debian's static busybox with the applets
 * pods of the suite use (sh, sleep, nc, httpd, wget…), pushed to the run's
 * registry. Built in memory like the CRI suite's images.
 */
import { pushImage } from '../cri/test-images/push-image.js';
import { buildLayer, buildTestImage, busyboxBaseLayer, markerLayer } from '../cri/test-images/test-image.js';
import type { TarEntry } from '../cri/test-images/tar-writer.js';

/** Applets the suite's pods use beyond those every test image links. */
const extraApplets = ['httpd', 'mktemp'] as const;

/** Repository and tag of the suite's busybox inside whatever registry it is pushed to. */
export const kubeletBusyboxName = { repository: 'kubeplug-kubelet-suite/busybox', tag: '1' } as const;

/** The references of the suite's images in the registry the runtime pulls from. */
export interface KubeletSuiteImages {
  readonly busybox: string;
}

/** Builds the suite's busybox image and pushes it to `registryHost` (`127.0.0.1:PORT`, plain http). */
export async function pushKubeletSuiteImages(registryHost: string): Promise<KubeletSuiteImages> {
  const links: TarEntry[] = [
    { type: 'dir', path: 'bin/' },
    ...extraApplets.map((applet): TarEntry => ({ type: 'symlink', path: `bin/${applet}`, target: 'busybox' })),
    { type: 'dir', path: 'www/' },
    { type: 'file', path: 'www/index.html', content: 'kubeplug kubelet suite\n' },
  ];
  const image = buildTestImage({
    name: 'kubelet-suite-busybox',
    layers: [buildLayer(busyboxBaseLayer()), markerLayer('kubelet-suite-busybox', links)],
  });
  await pushImage({ registryHost, repository: kubeletBusyboxName.repository }, image, kubeletBusyboxName.tag);
  // Also as `latest`, so a reference without a tag (imagePullPolicy defaults to Always) pulls too.
  await pushImage({ registryHost, repository: kubeletBusyboxName.repository }, image, 'latest');
  return { busybox: `${registryHost}/${kubeletBusyboxName.repository}:${kubeletBusyboxName.tag}` };
}
