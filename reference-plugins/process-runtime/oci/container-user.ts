import fs from 'node:fs';
import path from 'node:path';
import type { OciUser } from './oci-spec.js';

/** Who a container's process runs as, as CRI and the image give it. */
export interface ContainerUserInput {
  /** LinuxContainerSecurityContext.run_as_user. */
  runAsUser?: number | bigint;
  /** LinuxContainerSecurityContext.run_as_group (kubelet sends it only with run_as_user). */
  runAsGroup?: number | bigint;
  /** LinuxContainerSecurityContext.run_as_username. */
  runAsUsername?: string;
  /** LinuxContainerSecurityContext.supplemental_groups. */
  supplementalGroups?: readonly (number | bigint)[];
  /** The image config's User: "", "name", "uid", "name:group", "uid:gid". */
  imageUser?: string;
}

/** A user name or id that the rootfs's /etc/passwd or /etc/group does not know, or user settings CRI forbids. */
export class ContainerUserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerUserError';
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const maxSymlinks = 40;

/**
 * Reads a file of a container's rootfs, resolving every symlink on the way
 * inside the rootfs (an absolute link target means the rootfs's root, never
 * the host's); undefined when it does not exist.
 */
export function readFileInRootfs(rootfs: string, file: string): string | undefined {
  const pending = file.split('/').filter((part) => part !== '' && part !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(rootfs, ...resolved, part);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(candidate);
    } catch {
      return undefined;
    }
    if (stat.isSymbolicLink()) {
      if (++links > maxSymlinks) return undefined;
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((piece) => piece !== '' && piece !== '.'));
      continue;
    }
    resolved.push(part);
  }
  try {
    return fs.readFileSync(path.join(rootfs, ...resolved), 'utf8');
  } catch {
    return undefined;
  }
}

function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (text === undefined) return [];
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length < 4 || line.startsWith('#')) continue;
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (Number.isInteger(uid) && Number.isInteger(gid)) entries.push({ name: fields[0] ?? '', uid, gid });
  }
  return entries;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  if (text === undefined) return [];
  const entries: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length < 3 || line.startsWith('#')) continue;
    const gid = Number(fields[2]);
    const members = (fields[3] ?? '').split(',').filter((member) => member !== '');
    if (Number.isInteger(gid)) entries.push({ name: fields[0] ?? '', gid, members });
  }
  return entries;
}

/**
 * Refuses a group without a user: CRI allows run_as_group only together
 * with run_as_user or run_as_username (a sandbox has no username field, so
 * there only run_as_user counts). Accepts the CRI security contexts as
 * they are (Int64Value wrappers) or plain numbers.
 * @throws ContainerUserError when run_as_group is set without a user
 * @see CRI-CONTAINER-041
 * @see CRI-SANDBOX-028
 */
export function validateUserSettings(context: {
  runAsUser?: { value: number | bigint } | number | bigint | undefined;
  runAsGroup?: { value: number | bigint } | number | bigint | undefined;
  runAsUsername?: string | undefined;
} | undefined): void {
  if (context === undefined || context.runAsGroup === undefined) return;
  const hasUser = context.runAsUser !== undefined || (context.runAsUsername !== undefined && context.runAsUsername !== '');
  if (!hasUser) throw new ContainerUserError('run_as_group is set without run_as_user or run_as_username');
}

const numeric = /^\d+$/;

/**
 * Resolves the process user as the kubelet and containerd do: run_as_user
 * (gid from run_as_group, else the uid's passwd entry, else 0), else
 * run_as_username, else the image's User; names through the rootfs's
 * /etc/passwd and /etc/group. Additional gids: the groups of /etc/group that
 * list the user by name, then supplemental_groups.
 * @throws ContainerUserError for an unknown name, or run_as_group without a user (validateUserSettings)
 */
export function resolveContainerUser(rootfs: string, input: ContainerUserInput): OciUser {
  validateUserSettings(input);
  const passwd = parsePasswd(readFileInRootfs(rootfs, '/etc/passwd'));
  const groups = parseGroup(readFileInRootfs(rootfs, '/etc/group'));
  let uid: number;
  let gid: number | undefined;
  let name: string | undefined;
  if (input.runAsUser !== undefined) {
    uid = Number(input.runAsUser);
    const entry = passwd.find((candidate) => candidate.uid === uid);
    name = entry?.name;
    gid = entry?.gid;
  } else if (input.runAsUsername !== undefined && input.runAsUsername !== '') {
    const entry = passwd.find((candidate) => candidate.name === input.runAsUsername);
    if (entry === undefined) throw new ContainerUserError(`user "${input.runAsUsername}" is not in the image's /etc/passwd`);
    ({ uid, gid, name } = entry);
  } else {
    const [userPart = '', groupPart] = (input.imageUser ?? '').split(':', 2);
    if (userPart === '') uid = 0;
    else if (numeric.test(userPart)) uid = Number(userPart);
    else {
      const entry = passwd.find((candidate) => candidate.name === userPart);
      if (entry === undefined) throw new ContainerUserError(`image user "${userPart}" is not in the image's /etc/passwd`);
      uid = entry.uid;
    }
    const entry = passwd.find((candidate) => candidate.uid === uid);
    name = entry?.name;
    gid = entry?.gid;
    if (groupPart !== undefined && groupPart !== '') {
      if (numeric.test(groupPart)) gid = Number(groupPart);
      else {
        const group = groups.find((candidate) => candidate.name === groupPart);
        if (group === undefined) throw new ContainerUserError(`image group "${groupPart}" is not in the image's /etc/group`);
        gid = group.gid;
      }
    }
  }
  if (input.runAsGroup !== undefined) gid = Number(input.runAsGroup);
  const additional: number[] = [];
  if (name !== undefined) for (const group of groups) if (group.members.includes(name)) additional.push(group.gid);
  for (const group of input.supplementalGroups ?? []) additional.push(Number(group));
  const user: OciUser = { uid, gid: gid ?? 0 };
  const unique = [...new Set(additional)];
  if (unique.length > 0) user.additionalGids = unique;
  return user;
}
