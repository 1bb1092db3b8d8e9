import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { MountPropagation } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import type { CriSubject } from './cri-subject.js';
import {
  bindMount,
  containerStatus,
  execSync,
  hostFolder,
  runTestPod,
  shellOutput,
  startTestContainer,
} from './pod-fixtures.js';
import { refusedContainer } from './refused-container.js';

type Ctx = CaseContext<CriSubject>;

const execFileAsync = promisify(execFile);

/** Runs mount(8)/umount(8) on the node. */
async function mountCommand(args: readonly string[]): Promise<void> {
  await execFileAsync(args[0] === 'umount' ? 'umount' : 'mount', args[0] === 'umount' ? args.slice(1) : args, { timeout: 10_000 });
}

/**
 * A host folder that is a shared mount point of its own, as propagation
 * needs (a runtime refuses HOST_TO_CONTAINER under a private mount); its
 * unmount is registered before the mount.
 */
async function sharedHostFolder(ctx: Ctx, name: string): Promise<string> {
  const dir = hostFolder(ctx, name);
  ctx.defer(() => mountCommand(['umount', '--recursive', '--lazy', dir]).catch(() => undefined), `unmount ${dir}`);
  await mountCommand(['--bind', dir, dir]);
  await mountCommand(['--make-rshared', dir]);
  return dir;
}

/** Mounts a small tmpfs on the node at `dir` holding `file`; unmount registered first. */
async function nodeTmpfs(ctx: Ctx, dir: string, file: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  ctx.defer(() => mountCommand(['umount', '--lazy', dir]).catch(() => undefined), `unmount ${dir}`);
  await mountCommand(['-t', 'tmpfs', '-o', 'size=1m', 'kp-propagation', dir]);
  fs.writeFileSync(path.join(dir, file), 'from the node\n');
}

/** Whether the container sees `file` (polls for a second: propagation is asynchronous in no kernel, but runtimes may lag). */
async function containerSees(ctx: Ctx, containerId: string, file: string): Promise<boolean> {
  const result = await execSync(ctx, containerId, ['sh', '-c', `test -e ${file} && echo yes || echo no`]);
  return result.stdout.trim() === 'yes';
}

/** Declares the mount and device cases. */
export function declareContainerMountCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-CONTAINER-057', 'CRI-CONTAINER-058', 'CRI-CONTAINER-064'],
    title: 'Host folders and files are mounted at their container paths, read-only ones refuse writes, and ContainerStatus lists them',
    async run(ctx: Ctx) {
      const folder = hostFolder(ctx, 'kp-mount');
      fs.writeFileSync(path.join(folder, 'in-folder.txt'), 'folder content\n');
      const file = path.join(hostFolder(ctx, 'kp-mount-file'), 'single.txt');
      fs.writeFileSync(file, 'file content\n');
      const readOnly = hostFolder(ctx, 'kp-mount-ro');
      fs.writeFileSync(path.join(readOnly, 'ro.txt'), 'read-only content\n');
      const mounts = [bindMount(folder, '/mnt/folder'), bindMount(file, '/mnt/single.txt'), bindMount(readOnly, '/mnt/ro', { readonly: true })];
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, { mounts });
      const seen = await shellOutput(ctx, container.id, 'cat /mnt/folder/in-folder.txt /mnt/single.txt /mnt/ro/ro.txt', { ids: ['CRI-CONTAINER-057'] });
      ctx.check(seen === 'folder content\nfile content\nread-only content\n', { ids: ['CRI-CONTAINER-057'], what: 'the mounted folder and file show the node\'s content', expected: 'folder content, file content, read-only content', got: seen });
      const write = await execSync(ctx, container.id, ['sh', '-c', 'echo x > /mnt/ro/new.txt'], { ids: ['CRI-CONTAINER-058'] });
      ctx.check(write.exitCode !== 0, { ids: ['CRI-CONTAINER-058'], what: 'writing into the read-only mount fails', expected: 'non-zero exit', got: write });
      fs.writeFileSync(path.join(readOnly, 'from-node.txt'), 'node write\n');
      const nodeWrite = await shellOutput(ctx, container.id, 'cat /mnt/ro/from-node.txt', { ids: ['CRI-CONTAINER-058'] });
      ctx.check(nodeWrite === 'node write\n', { ids: ['CRI-CONTAINER-058'], what: 'the node can still write to the host path, and the container reads it', expected: 'node write', got: nodeWrite });
      const status = await containerStatus(ctx, container.id, { ids: ['CRI-CONTAINER-064'] });
      for (const mount of mounts) {
        const listed = status.mounts.find((item) => item.containerPath === mount.containerPath);
        ctx.check(listed !== undefined && listed.hostPath === mount.hostPath && listed.readonly === mount.readonly && listed.propagation === mount.propagation, {
          ids: ['CRI-CONTAINER-064'],
          what: `ContainerStatus.mounts lists ${mount.containerPath} with its host path, read-only flag and propagation`,
          expected: { containerPath: mount.containerPath, hostPath: mount.hostPath, readonly: mount.readonly, propagation: MountPropagation[mount.propagation] },
          got: listed ?? status.mounts,
        });
      }
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-059', 'CRI-CONTAINER-060'],
    title: 'A node mount made after the start reaches a host-to-container mount and not a private one',
    needs: { root: true },
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const dir = await sharedHostFolder(ctx, 'kp-propagation');
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, {
        mounts: [bindMount(dir, '/mnt/private'), bindMount(dir, '/mnt/to-container', { propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER })],
      });
      await nodeTmpfs(ctx, path.join(dir, 'later'), 'marker.txt');
      ctx.check(!(await containerSees(ctx, container.id, '/mnt/private/later/marker.txt')), { ids: ['CRI-CONTAINER-059'], what: 'the private mount does not receive the later node mount', expected: 'not seen', got: 'seen' });
      ctx.check(await containerSees(ctx, container.id, '/mnt/to-container/later/marker.txt'), { ids: ['CRI-CONTAINER-060'], what: 'the host-to-container mount receives the later node mount', expected: 'seen', got: 'not seen' });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-061'],
    title: 'A bidirectional mount of a privileged container propagates mounts both ways',
    needs: { root: true },
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const dir = await sharedHostFolder(ctx, 'kp-bidirectional');
      const fromContainer = path.join(dir, 'from-container');
      fs.mkdirSync(fromContainer);
      ctx.defer(() => mountCommand(['umount', '--lazy', fromContainer]).catch(() => undefined), `unmount ${fromContainer}`);
      const pod = await runTestPod(ctx, { privileged: true });
      const container = await startTestContainer(ctx, pod, {
        mounts: [bindMount(dir, '/mnt/both', { propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL })],
        securityContext: { privileged: true },
      });
      await shellOutput(ctx, container.id, 'mount -t tmpfs -o size=1m kp-inner /mnt/both/from-container && echo inside > /mnt/both/from-container/marker.txt');
      let onNode = '';
      for (let waited = 0; waited < 2000 && onNode === ''; waited += 200) {
        onNode = fs.existsSync(path.join(fromContainer, 'marker.txt')) ? fs.readFileSync(path.join(fromContainer, 'marker.txt'), 'utf8') : '';
        if (onNode === '') await new Promise((resolve) => setTimeout(resolve, 200));
      }
      ctx.check(onNode === 'inside\n', { what: 'a tmpfs the container mounts under the mount point appears on the node', expected: 'inside', got: onNode === '' ? 'not seen on the node' : onNode });
      await nodeTmpfs(ctx, path.join(dir, 'from-node'), 'marker.txt');
      ctx.check(await containerSees(ctx, container.id, '/mnt/both/from-node/marker.txt'), { what: 'a tmpfs the node mounts later appears in the container', expected: 'seen', got: 'not seen' });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-062'],
    title: 'A mount whose host path does not exist makes the container fail to be created or started',
    async run(ctx: Ctx) {
      const missing = path.join(hostFolder(ctx, 'kp-missing-parent'), 'does-not-exist');
      const pod = await runTestPod(ctx);
      const result = await refusedContainer(ctx, pod, { mounts: [bindMount(missing, '/mnt/missing')] });
      ctx.check(result.failedAt !== undefined, { what: 'CreateContainer or StartContainer with a missing host path fails', expected: 'an error', got: result });
      ctx.check(!fs.existsSync(missing), { what: 'the runtime did not make the missing host path', expected: 'still missing', got: fs.existsSync(missing) ? 'created' : 'missing' });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-063'],
    title: "A symbolic-link host path mounts the link's target",
    async run(ctx: Ctx) {
      const target = hostFolder(ctx, 'kp-link-target');
      fs.writeFileSync(path.join(target, 'through-link.txt'), 'target content\n');
      const link = path.join(hostFolder(ctx, 'kp-link'), 'link');
      fs.symlinkSync(target, link);
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, { mounts: [bindMount(link, '/mnt/linked')] });
      const seen = await shellOutput(ctx, container.id, 'cat /mnt/linked/through-link.txt');
      ctx.check(seen === 'target content\n', { what: "the mount shows the link target's content", expected: 'target content', got: seen });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-065'],
    title: 'A device is mapped into the container at its container path with its permissions',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, { devices: [{ hostPath: '/dev/null', containerPath: '/dev/kp-null', permissions: 'rw' }] });
      const result = await execSync(ctx, container.id, ['sh', '-c', 'test -c /dev/kp-null && echo written > /dev/kp-null && head -c 1 /dev/kp-null | wc -c']);
      ctx.check(result.exitCode === 0 && result.stdout.trim() === '0', { what: '/dev/kp-null is a character device that can be written and read (empty, as /dev/null)', expected: 'exit 0, reads 0 bytes', got: result });
    },
  });
}
