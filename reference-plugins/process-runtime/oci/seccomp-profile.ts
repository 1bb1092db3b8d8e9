/**
 * Seccomp for containers: which profile CRI asks for, the runtime's own
 * default profile, and node profiles in the Docker/containerd JSON format
 * (containerd/containerd contrib/seccomp, moby/moby profiles/seccomp, v1.6
 * and v23) turned into the runtime-spec `linux.seccomp`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OciSeccomp, OciSeccompArg, OciSeccompSyscall } from './oci-spec.js';

/** The profile a container runs under: none, the runtime's default, or a file on the node. */
export type SeccompChoice = { kind: 'unconfined' } | { kind: 'runtime-default' } | { kind: 'localhost'; path: string };

/** A seccomp request that cannot be honoured: a missing, unreadable or invalid profile, or an unknown profile name. */
export class SeccompProfileError extends Error {
  constructor(options: { message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SeccompProfileError';
  }
}

/** CRI SecurityProfile.ProfileType values (kubernetes/cri-api v0.36.3 api.proto). */
const criProfileTypes = { runtimeDefault: 0, unconfined: 1, localhost: 2 } as const;

/**
 * The profile CRI asks for, as containerd reads it: the `seccomp` message
 * when set, else the deprecated `seccomp_profile_path` ("runtime/default",
 * "docker/default", "unconfined", "localhost/<absolute path>"), else none.
 * @throws SeccompProfileError for an unknown type or path form, or a Localhost ref that is not an absolute path
 * @see CRI-CONTAINER-055
 * @see CRI-CONTAINER-056
 */
export function seccompChoiceFromCri(o: { seccomp?: { profileType: number; localhostRef: string } | undefined; seccompProfilePath?: string }): SeccompChoice {
  if (o.seccomp !== undefined) {
    switch (o.seccomp.profileType) {
      case criProfileTypes.runtimeDefault:
        return { kind: 'runtime-default' };
      case criProfileTypes.unconfined:
        return { kind: 'unconfined' };
      case criProfileTypes.localhost:
        return localhost(o.seccomp.localhostRef);
      default:
        throw new SeccompProfileError({ message: `seccomp: unknown profile type ${o.seccomp.profileType}` });
    }
  }
  const legacy = o.seccompProfilePath ?? '';
  if (legacy === '' || legacy === 'unconfined') return { kind: 'unconfined' };
  if (legacy === 'runtime/default' || legacy === 'docker/default') return { kind: 'runtime-default' };
  if (legacy.startsWith('localhost/')) return localhost(legacy.slice('localhost/'.length));
  throw new SeccompProfileError({ message: `seccomp_profile_path: ${JSON.stringify(legacy)} is none of unconfined, runtime/default, docker/default, localhost/<path>` });
}

function localhost(ref: string): SeccompChoice {
  if (!path.isAbsolute(ref)) throw new SeccompProfileError({ message: `seccomp: the localhost profile ${JSON.stringify(ref)} is not an absolute path` });
  return { kind: 'localhost', path: ref };
}

/** The libseccomp architectures of this machine's ABIs, native first (x86_64 runs i386 and x32 code too). */
export function nativeSeccompArchitectures(arch: string = process.arch): string[] {
  switch (arch) {
    case 'x64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
    case 'arm64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    case 'ia32':
      return ['SCMP_ARCH_X86'];
    case 'arm':
      return ['SCMP_ARCH_ARM'];
    case 'ppc64':
      return ['SCMP_ARCH_PPC64LE'];
    case 's390x':
      return ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'];
    case 'riscv64':
      return ['SCMP_ARCH_RISCV64'];
    default:
      return [];
  }
}

const eperm = 1;

/**
 * System calls no ordinary container needs and whose use reaches past it
 * (kernel modules, kexec, reboot, swap, accounting, the kernel keyring,
 * BPF, perf, userfaultfd, handle-based opens, obsolete calls): refused
 * with EPERM by the runtime's default profile.
 */
const alwaysRefused: readonly string[] = [
  'acct', 'add_key', 'bpf', 'create_module', 'delete_module', 'finit_module', 'get_kernel_syms', 'init_module',
  'kexec_file_load', 'kexec_load', 'keyctl', 'lookup_dcookie', 'nfsservctl', 'open_by_handle_at', 'perf_event_open',
  'query_module', 'quotactl', 'reboot', 'request_key', 'swapoff', 'swapon', 'uselib', 'userfaultfd', 'vm86', 'vm86old',
  'iopl', 'ioperm', 'syslog',
];

/**
 * Mounting and namespace creation: refused unless the container holds
 * CAP_SYS_ADMIN, since an unprivileged user namespace would otherwise let
 * the process gain that capability over new namespaces.
 */
const refusedWithoutSysAdmin: readonly string[] = ['mount', 'umount', 'umount2', 'pivot_root', 'unshare', 'setns', 'fsopen', 'fsmount', 'fsconfig', 'move_mount', 'open_tree', 'fspick'];

/**
 * The runtime's default profile: everything allowed except the calls above,
 * which fail with EPERM (clone with namespace flags is left to the kernel's
 * capability checks: filtering its flags would refuse clone3 wholesale).
 * @see CRI-CONTAINER-056
 */
export function runtimeDefaultSeccomp(o: { capabilities: readonly string[] }): OciSeccomp {
  const names = [...alwaysRefused, ...(o.capabilities.includes('CAP_SYS_ADMIN') ? [] : refusedWithoutSysAdmin)];
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: nativeSeccompArchitectures(),
    syscalls: [{ names, action: 'SCMP_ACT_ERRNO', errnoRet: eperm }],
  };
}

const actions = new Set([
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
]);

const operators = new Set(['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ']);

const flagNames = new Set(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new SeccompProfileError({ message: `${what} is not a list of strings` });
  return value as string[];
}

function action(value: unknown, what: string): string {
  if (typeof value !== 'string' || !actions.has(value)) throw new SeccompProfileError({ message: `${what}: ${JSON.stringify(value)} is not a seccomp action (SCMP_ACT_…)` });
  return value;
}

function errno(value: unknown, what: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new SeccompProfileError({ message: `${what}: ${JSON.stringify(value)} is not an errno` });
  return value;
}

function argument(value: unknown, what: string): OciSeccompArg {
  if (!isObject(value)) throw new SeccompProfileError({ message: `${what} is not an object` });
  const { index, value: compared, valueTwo, op } = value;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) throw new SeccompProfileError({ message: `${what}.index: ${JSON.stringify(index)} is not 0-5` });
  if (typeof compared !== 'number') throw new SeccompProfileError({ message: `${what}.value is not a number` });
  if (valueTwo !== undefined && typeof valueTwo !== 'number') throw new SeccompProfileError({ message: `${what}.valueTwo is not a number` });
  if (typeof op !== 'string' || !operators.has(op)) throw new SeccompProfileError({ message: `${what}.op: ${JSON.stringify(op)} is not a comparison (SCMP_CMP_…)` });
  return { index, value: compared, ...(valueTwo === undefined || valueTwo === 0 ? {} : { valueTwo }), op };
}

/** Whether a Docker-format rule's includes/excludes (arches, caps) let it apply here. minKernel is not checked. */
function ruleApplies(rule: Json, o: { architectures: readonly string[]; capabilities: readonly string[] }): boolean {
  const arches = (list: string[]): string[] => list.map((arch) => `SCMP_ARCH_${arch.toUpperCase().replace(/^SCMP_ARCH_/, '').replace(/^AMD64$/, 'X86_64').replace(/^ARM64$/, 'AARCH64')}`);
  const caps = (list: string[]): string[] => list.map((cap) => (cap.toUpperCase().startsWith('CAP_') ? cap.toUpperCase() : `CAP_${cap.toUpperCase()}`));
  const native = o.architectures[0];
  if (isObject(rule['includes'])) {
    const wantArches = arches(stringList(rule['includes']['arches'], 'includes.arches'));
    if (wantArches.length > 0 && (native === undefined || !wantArches.includes(native))) return false;
    if (!caps(stringList(rule['includes']['caps'], 'includes.caps')).every((cap) => o.capabilities.includes(cap))) return false;
  }
  if (isObject(rule['excludes'])) {
    if (native !== undefined && arches(stringList(rule['excludes']['arches'], 'excludes.arches')).includes(native)) return false;
    if (caps(stringList(rule['excludes']['caps'], 'excludes.caps')).some((cap) => o.capabilities.includes(cap))) return false;
  }
  return true;
}

/**
 * A Docker/containerd seccomp profile (or an OCI `linux.seccomp` object,
 * which has the same core fields) as the runtime-spec `linux.seccomp`:
 * architectures from `architectures`, else the `archMap` entry of this
 * machine with its sub-architectures; each rule's `name` or `names`, its
 * action, errnoRet and args, kept when its includes/excludes (arches,
 * caps) match this machine and the container's capabilities.
 * @throws SeccompProfileError when the profile is not such an object
 */
export function seccompFromProfile(profile: unknown, o: { capabilities: readonly string[]; architectures?: readonly string[] }): OciSeccomp {
  if (!isObject(profile)) throw new SeccompProfileError({ message: 'the seccomp profile is not a JSON object' });
  const native = o.architectures ?? nativeSeccompArchitectures();
  const result: OciSeccomp = { defaultAction: action(profile['defaultAction'], 'defaultAction') };
  const defaultErrno = errno(profile['defaultErrnoRet'], 'defaultErrnoRet');
  if (defaultErrno !== undefined) result.defaultErrnoRet = defaultErrno;
  let architectures = stringList(profile['architectures'], 'architectures');
  if (architectures.length === 0 && profile['archMap'] !== undefined && profile['archMap'] !== null) {
    if (!Array.isArray(profile['archMap'])) throw new SeccompProfileError({ message: 'archMap is not a list' });
    for (const entry of profile['archMap'] as unknown[]) {
      if (!isObject(entry) || typeof entry['architecture'] !== 'string') throw new SeccompProfileError({ message: 'an archMap entry has no architecture' });
      if (entry['architecture'] === native[0]) architectures = [entry['architecture'], ...stringList(entry['subArchitectures'], 'archMap[].subArchitectures')];
    }
  }
  if (architectures.length > 0) result.architectures = architectures;
  const flags = stringList(profile['flags'], 'flags');
  for (const flag of flags) if (!flagNames.has(flag)) throw new SeccompProfileError({ message: `flags: ${JSON.stringify(flag)} is not a seccomp filter flag` });
  if (flags.length > 0) result.flags = flags;
  const rules = profile['syscalls'] ?? [];
  if (!Array.isArray(rules)) throw new SeccompProfileError({ message: 'syscalls is not a list' });
  const syscalls: OciSeccompSyscall[] = [];
  (rules as unknown[]).forEach((rule, at) => {
    const what = `syscalls[${at}]`;
    if (!isObject(rule)) throw new SeccompProfileError({ message: `${what} is not an object` });
    const names = [...stringList(rule['names'], `${what}.names`)];
    if (typeof rule['name'] === 'string' && rule['name'] !== '') names.push(rule['name']);
    if (names.length === 0) throw new SeccompProfileError({ message: `${what} names no system call` });
    const converted: OciSeccompSyscall = { names, action: action(rule['action'], `${what}.action`) };
    const ret = errno(rule['errnoRet'], `${what}.errnoRet`);
    if (ret !== undefined) converted.errnoRet = ret;
    const args = rule['args'] ?? [];
    if (!Array.isArray(args)) throw new SeccompProfileError({ message: `${what}.args is not a list` });
    if (args.length > 0) converted.args = (args as unknown[]).map((arg, index) => argument(arg, `${what}.args[${index}]`));
    if (ruleApplies(rule, { architectures: native, capabilities: o.capabilities })) syscalls.push(converted);
  });
  if (syscalls.length > 0) result.syscalls = syscalls;
  return result;
}

/**
 * Reads a node's profile file and converts it (see seccompFromProfile).
 * @throws SeccompProfileError when the file is missing, unreadable, not JSON or not a profile
 * @see CRI-CONTAINER-055
 */
export function loadLocalhostSeccompProfile(file: string, o: { capabilities: readonly string[] }): OciSeccomp {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SeccompProfileError({ message: `seccomp profile ${file}: ${(error as Error).message}`, cause: error });
  }
  let profile: unknown;
  try {
    profile = JSON.parse(text);
  } catch (error) {
    throw new SeccompProfileError({ message: `seccomp profile ${file} is not JSON: ${(error as Error).message}`, cause: error });
  }
  try {
    return seccompFromProfile(profile, o);
  } catch (error) {
    if (error instanceof SeccompProfileError) throw new SeccompProfileError({ message: `seccomp profile ${file}: ${error.message}`, cause: error });
    throw error;
  }
}

/**
 * The `linux.seccomp` of a container for a choice, or undefined for none.
 * Privileged containers run unconfined whatever is asked: CRI's privileged
 * "overrides capabilities, seccomp, AppArmor and SELinux" (cri-api
 * api.proto, LinuxContainerSecurityContext.privileged), and containerd
 * skips seccomp for them, so the RuntimeDefault a kubelet sends for every
 * pod does not confine them either.
 */
export function containerSeccomp(choice: SeccompChoice | undefined, o: { privileged: boolean; capabilities: readonly string[] }): OciSeccomp | undefined {
  if (o.privileged || choice === undefined || choice.kind === 'unconfined') return undefined;
  if (choice.kind === 'localhost') return loadLocalhostSeccompProfile(choice.path, o);
  return runtimeDefaultSeccomp(o);
}
