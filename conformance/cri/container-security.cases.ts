import fs from 'node:fs';
import path from 'node:path';
import { SecurityProfile_ProfileType } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome } from './expect-status.js';
import {
  bindMount,
  containerConfig,
  execSync,
  hostFolder,
  pullImage,
  runTestPod,
  shellOutput,
  startTestContainer,
  type ContainerOptions,
} from './pod-fixtures.js';
import { refusedContainer } from './refused-container.js';
import { imageUser } from './suite-images.js';

type Ctx = CaseContext<CriSubject>;

/** Capability numbers from linux/capability.h, for the names the cases use. */
const capabilityBits = { CHOWN: 0, KILL: 5, NET_ADMIN: 12, NET_RAW: 13, SYS_ADMIN: 21, SYS_TIME: 25 } as const;

/** The fields of /proc/1/status inside the container (its first process). */
async function processStatus(ctx: Ctx, containerId: string, ids?: readonly string[]): Promise<Record<string, string>> {
  const text = await shellOutput(ctx, containerId, 'cat /proc/1/status', ids === undefined ? {} : { ids });
  return Object.fromEntries(text.split('\n').filter((line) => line.includes(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]));
}

function capabilitySets(status: Record<string, string>): Record<'CapInh' | 'CapPrm' | 'CapEff' | 'CapBnd' | 'CapAmb', bigint> {
  const read = (key: string): bigint => BigInt(`0x${status[key] ?? '0'}`);
  return { CapInh: read('CapInh'), CapPrm: read('CapPrm'), CapEff: read('CapEff'), CapBnd: read('CapBnd'), CapAmb: read('CapAmb') };
}

function has(set: bigint, bit: number): boolean {
  return ((set >> BigInt(bit)) & 1n) === 1n;
}

function showSets(sets: Record<string, bigint>): Record<string, string> {
  return Object.fromEntries(Object.entries(sets).map(([key, value]) => [key, value.toString(16).padStart(16, '0')]));
}

/** A sleeping container with the given security context, PID 1 its own process. */
function sleeper(options: ContainerOptions = {}): ContainerOptions {
  return { command: ['sleep', '3600'], ...options };
}

/** Declares the user, group, capability, read-only and seccomp cases. */
export function declareContainerSecurityCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-CONTAINER-039', 'CRI-CONTAINER-040', 'CRI-CONTAINER-045'],
    title: 'run_as_user, run_as_group and supplemental_groups set the IDs of the container process',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, sleeper({ securityContext: { runAsUser: { value: 1234n }, runAsGroup: { value: 2345n }, supplementalGroups: [3000n, 3001n] } }));
      const status = await processStatus(ctx, container.id);
      const uids = (status['Uid'] ?? '').split(/\s+/);
      const gids = (status['Gid'] ?? '').split(/\s+/);
      const groups = (status['Groups'] ?? '').split(/\s+/).filter((group) => group !== '');
      ctx.check(uids.length === 4 && uids.every((uid) => uid === '1234'), { ids: ['CRI-CONTAINER-039'], what: 'the process runs as user 1234 (real, effective, saved, fs)', expected: '1234', got: status['Uid'] ?? 'no Uid line' });
      ctx.check(gids.length === 4 && gids.every((gid) => gid === '2345'), { ids: ['CRI-CONTAINER-040'], what: 'the process runs with group 2345', expected: '2345', got: status['Gid'] ?? 'no Gid line' });
      ctx.check(groups.includes('3000') && groups.includes('3001'), { ids: ['CRI-CONTAINER-045'], what: 'supplemental groups 3000 and 3001 are among the process groups', expected: ['3000', '3001'], got: groups });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-041'],
    title: 'A container with run_as_group but no user is refused',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const config = containerConfig(ctx, pod, sleeper({ securityContext: { runAsGroup: { value: 2345n } } }));
      await pullImage(ctx, config.image?.image ?? '');
      let madeId: string | undefined;
      ctx.defer(async () => {
        if (madeId !== undefined) await callRuntime(ctx, 'removeContainer', { containerId: madeId });
      }, 'remove a container that should not exist');
      const created = await callRuntime(ctx, 'createContainer', { podSandboxId: pod.id, config, sandboxConfig: pod.config });
      if (created.ok) madeId = created.response.containerId;
      ctx.check(!created.ok, { what: 'CreateContainer with run_as_group 2345 and neither run_as_user nor run_as_username fails', expected: 'an error', got: describeOutcome(created) });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-042', 'CRI-CONTAINER-046'],
    title: "run_as_username is resolved in the image's /etc/passwd, and the user's groups from /etc/group are kept",
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, sleeper({ securityContext: { runAsUsername: imageUser.name } }));
      const status = await processStatus(ctx, container.id);
      const uid = (status['Uid'] ?? '').split(/\s+/)[0];
      const gid = (status['Gid'] ?? '').split(/\s+/)[0];
      const groups = (status['Groups'] ?? '').split(/\s+/).filter((group) => group !== '');
      ctx.check(uid === String(imageUser.uid) && gid === String(imageUser.gid), { ids: ['CRI-CONTAINER-042'], what: `run_as_username ${imageUser.name} runs as its uid and primary gid`, expected: { uid: imageUser.uid, gid: imageUser.gid }, got: { uid: status['Uid'], gid: status['Gid'] } });
      const extra = imageUser.supplementaryGroups.map((group) => String(group.gid));
      ctx.check(extra.every((group) => groups.includes(group)), { ids: ['CRI-CONTAINER-046'], what: `the groups /etc/group gives ${imageUser.name} are among the process groups`, expected: extra, got: groups });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-043'],
    title: 'A container whose run_as_username is not in the image does not run',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const result = await refusedContainer(ctx, pod, sleeper({ securityContext: { runAsUsername: 'kp-no-such-user' } }));
      ctx.check(result.failedAt !== undefined, { what: 'CreateContainer or StartContainer with run_as_username kp-no-such-user fails', expected: 'an error', got: result });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-044'],
    title: "Without a configured user the image's USER runs, or root when it names none",
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      for (const [image, expected, label] of [
        [ctx.subject.run.images.asUser, String(imageUser.uid), `the image's USER ${imageUser.name}`],
        [ctx.subject.run.images.busybox, '0', 'root, as the image names no user'],
      ] as const) {
        const container = await startTestContainer(ctx, pod, sleeper({ image }));
        const status = await processStatus(ctx, container.id);
        const uid = (status['Uid'] ?? '').split(/\s+/)[0];
        ctx.check(uid === expected, { what: `the process runs as ${label}`, expected, got: status['Uid'] ?? 'no Uid line' });
      }
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-047'],
    title: 'A read-only root filesystem refuses writes while an added writable mount accepts them',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const writable = hostFolder(ctx, 'kp-rw');
      const container = await startTestContainer(ctx, pod, sleeper({ securityContext: { readonlyRootfs: true }, mounts: [bindMount(writable, '/mnt/rw')] }));
      for (const target of ['/kp-write-test', '/etc/kp-write-test', '/tmp/kp-write-test']) {
        const result = await execSync(ctx, container.id, ['sh', '-c', `echo x > ${target}`]);
        ctx.check(result.exitCode !== 0 && /read-only/i.test(result.stderr), { what: `writing ${target} on the root filesystem fails with a read-only file system error`, expected: 'non-zero exit, "Read-only file system"', got: result });
      }
      const rw = await execSync(ctx, container.id, ['sh', '-c', 'echo x > /mnt/rw/kp-write-test']);
      ctx.check(rw.exitCode === 0 && fs.existsSync(path.join(writable, 'kp-write-test')), { what: 'writing into the writable mount succeeds and reaches the host folder', expected: 'exit 0, file on the node', got: rw });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-048', 'CRI-CONTAINER-049'],
    title: 'Added capabilities are granted and dropped ones are gone from every set, ALL dropping all',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const added = await startTestContainer(ctx, pod, sleeper({ securityContext: { capabilities: { addCapabilities: ['NET_ADMIN', 'SYS_TIME'], dropCapabilities: ['CHOWN'], addAmbientCapabilities: [] } } }));
      const sets = capabilitySets(await processStatus(ctx, added.id));
      for (const name of ['NET_ADMIN', 'SYS_TIME'] as const) {
        ctx.check(has(sets.CapEff, capabilityBits[name]) && has(sets.CapBnd, capabilityBits[name]), { ids: ['CRI-CONTAINER-048'], what: `added ${name} is in the effective and bounding sets`, expected: `bit ${capabilityBits[name]} set`, got: showSets(sets) });
      }
      ctx.check(Object.values(sets).every((set) => !has(set, capabilityBits.CHOWN)), { ids: ['CRI-CONTAINER-049'], what: 'dropped CHOWN is in no capability set', expected: 'bit 0 clear everywhere', got: showSets(sets) });
      const none = await startTestContainer(ctx, pod, sleeper({ securityContext: { capabilities: { addCapabilities: [], dropCapabilities: ['ALL'], addAmbientCapabilities: [] } } }));
      const empty = capabilitySets(await processStatus(ctx, none.id));
      ctx.check(Object.values(empty).every((set) => set === 0n), { ids: ['CRI-CONTAINER-049'], what: 'dropping ALL leaves every capability set empty', expected: 'all zero', got: showSets(empty) });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-050', 'CRI-CONTAINER-051'],
    title: "A privileged container has every capability and sees the node's devices",
    needs: { root: true },
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx, { privileged: true });
      const container = await startTestContainer(ctx, pod, sleeper({ securityContext: { privileged: true } }));
      const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
      // No runtime can grant what the node's root lacks (a node in a container may miss some): the suite's own bounding set is the ceiling.
      const nodeBounding = capabilitySets(Object.fromEntries(fs.readFileSync('/proc/self/status', 'utf8').split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]))).CapBnd;
      const all = ((1n << BigInt(lastCap + 1)) - 1n) & nodeBounding;
      if (all !== (1n << BigInt(lastCap + 1)) - 1n) ctx.note(`the node's own bounding set lacks some capabilities (${nodeBounding.toString(16)}); the case expects the node's set`);
      const sets = capabilitySets(await processStatus(ctx, container.id, ['CRI-CONTAINER-050']));
      ctx.check((sets.CapEff & all) === all && (sets.CapBnd & all) === all, { ids: ['CRI-CONTAINER-050'], what: `the effective and bounding sets hold every capability up to ${lastCap} the node has`, expected: all.toString(16), got: showSets(sets) });
      const devices = ['/dev/loop-control', '/dev/loop0', '/dev/kmsg', '/dev/mem'].filter((device) => fs.existsSync(device));
      if (devices.length === 0) ctx.skip('the node has none of /dev/loop-control, /dev/loop0, /dev/kmsg, /dev/mem to look for');
      const seen = await shellOutput(ctx, container.id, devices.map((device) => `test -e ${device} && echo ${device}`).join('; ') + '; true', { ids: ['CRI-CONTAINER-051'] });
      ctx.check(devices.every((device) => seen.split('\n').includes(device)), { ids: ['CRI-CONTAINER-051'], what: "the node's devices are present in the container", expected: devices, got: seen.trim().split('\n') });
      const usable = await execSync(ctx, container.id, ['sh', '-c', `: < ${devices[0]}`], { ids: ['CRI-CONTAINER-051'] });
      ctx.check(usable.exitCode === 0, { ids: ['CRI-CONTAINER-051'], what: `${devices[0]} can be opened`, expected: 'exit 0', got: usable });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-052'],
    title: 'no_new_privs sets the no-new-privileges flag of the process',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, sleeper({ securityContext: { noNewPrivs: true } }));
      const status = await processStatus(ctx, container.id);
      ctx.check(status['NoNewPrivs'] === '1', { what: 'NoNewPrivs is 1 in /proc/1/status', expected: '1', got: status['NoNewPrivs'] ?? 'no NoNewPrivs line' });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-053', 'CRI-CONTAINER-054'],
    title: 'Masked paths read as empty and read-only paths refuse writes',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, sleeper({ securityContext: { maskedPaths: ['/etc/kubeplug-test-image'], readonlyPaths: ['/tmp'] } }));
      const masked = await execSync(ctx, container.id, ['cat', '/etc/kubeplug-test-image'], { ids: ['CRI-CONTAINER-053'] });
      ctx.check(masked.stdout === '', { ids: ['CRI-CONTAINER-053'], what: 'the masked /etc/kubeplug-test-image reads as empty or cannot be read', expected: 'no content', got: masked });
      const write = await execSync(ctx, container.id, ['sh', '-c', 'echo x > /tmp/kp-write-test'], { ids: ['CRI-CONTAINER-054'] });
      ctx.check(write.exitCode !== 0, { ids: ['CRI-CONTAINER-054'], what: 'writing into the read-only path /tmp fails', expected: 'non-zero exit', got: write });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-055'],
    title: 'A localhost seccomp profile on the node is enforced',
    async run(ctx: Ctx) {
      const dir = hostFolder(ctx, 'kp-seccomp');
      const profile = path.join(dir, 'deny-mkdir.json');
      fs.writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, sleeper({ securityContext: { seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: profile } } }));
      const made = await execSync(ctx, container.id, ['mkdir', '/tmp/kp-seccomp-test']);
      ctx.check(made.exitCode !== 0, { what: 'mkdir, which the profile refuses, fails', expected: 'non-zero exit', got: made });
      const allowed = await execSync(ctx, container.id, ['sh', '-c', 'echo ok > /tmp/kp-seccomp-file']);
      ctx.check(allowed.exitCode === 0, { what: 'a system call the profile allows still works', expected: 'exit 0', got: allowed });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-056'],
    title: 'RuntimeDefault seccomp puts the process in filter mode and Unconfined in none',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      for (const [type, expected] of [[SecurityProfile_ProfileType.RuntimeDefault, '2'], [SecurityProfile_ProfileType.Unconfined, '0']] as const) {
        const container = await startTestContainer(ctx, pod, sleeper({ securityContext: { seccomp: { profileType: type, localhostRef: '' } } }));
        const status = await processStatus(ctx, container.id);
        ctx.check(status['Seccomp'] === expected, { what: `with ${SecurityProfile_ProfileType[type]} /proc/1/status reads Seccomp: ${expected}`, expected, got: status['Seccomp'] ?? 'no Seccomp line' });
      }
    },
  });
}
