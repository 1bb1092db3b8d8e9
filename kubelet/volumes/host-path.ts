/**
 * hostPath volumes: the node path itself, checked (or created) as its type
 * says, as upstream's pkg/volume/hostpath/host_path.go checkType does.
 * @see KUBELET-SANDBOX-008
 */
import fs from 'node:fs/promises';
import type { HostPathType } from '../api/pod-types.js';
import { VolumeError } from './volume-error.js';

type Kind = 'missing' | 'directory' | 'file' | 'socket' | 'char-device' | 'block-device' | 'other';

async function kindOf(file: string): Promise<Kind> {
  try {
    const stat = await fs.stat(file);
    if (stat.isDirectory()) return 'directory';
    if (stat.isFile()) return 'file';
    if (stat.isSocket()) return 'socket';
    if (stat.isCharacterDevice()) return 'char-device';
    if (stat.isBlockDevice()) return 'block-device';
    return 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}

const wanted: Record<Exclude<HostPathType, '' | 'DirectoryOrCreate' | 'FileOrCreate'>, { kind: Kind; noun: string }> = {
  Directory: { kind: 'directory', noun: 'a directory' },
  File: { kind: 'file', noun: 'a file' },
  Socket: { kind: 'socket', noun: 'a socket file' },
  CharDevice: { kind: 'char-device', noun: 'a character device' },
  BlockDevice: { kind: 'block-device', noun: 'a block device' },
};

/**
 * Checks `path` against `type`, creating it for DirectoryOrCreate (mode 0755,
 * parents too) and FileOrCreate (an empty 0644 file; its folder must exist);
 * resolves with the path to bind.
 */
export async function prepareHostPath(volume: string, path: string, type: HostPathType = ''): Promise<string> {
  const fail = (message: string): never => {
    throw new VolumeError({ volume, message: `hostPath type check failed: ${message}` });
  };
  const kind = await kindOf(path);
  switch (type) {
    case '':
      return path;
    case 'DirectoryOrCreate':
      if (kind === 'missing') await fs.mkdir(path, { recursive: true, mode: 0o755 });
      else if (kind !== 'directory') fail(`${path} is not a directory`);
      return path;
    case 'FileOrCreate':
      if (kind === 'missing') {
        try {
          await (await fs.open(path, 'a', 0o644)).close();
        } catch (error) {
          fail(`cannot create file ${path}: ${(error as Error).message}`);
        }
      } else if (kind !== 'file') fail(`${path} is not a file`);
      return path;
    default: {
      const rule = wanted[type];
      if (rule === undefined) fail(`unknown hostPath type ${JSON.stringify(type)}`);
      if (kind === 'missing') fail(`${path} does not exist`);
      if (kind !== rule.kind) fail(`${path} is not ${rule.noun}`);
      return path;
    }
  }
}
