import { runCommand, SystemCommandError } from '../run-command.js';
import { VolumeSystemError, type MountRequest, type VolumeSystem } from './volume-system.js';

/**
 * The {@link VolumeSystem} through mount(8), umount(8) and losetup(8) child
 * processes: slower (a process per call) but needs nothing built.
 */
export function createCommandVolumeSystem(): VolumeSystem {
  const run = async (operation: string, argv: readonly string[]): Promise<string> => {
    try {
      return await runCommand(argv);
    } catch (error) {
      if (error instanceof SystemCommandError) {
        throw new VolumeSystemError({ operation, code: codeOf(error.stderr), message: error.message, cause: error });
      }
      throw error;
    }
  };
  return {
    async mount(request: MountRequest) {
      const options = [...(request.options ?? [])];
      const argv = request.bind === true ? ['mount', '--bind'] : ['mount', '-t', request.fsType ?? 'auto'];
      if (options.length > 0) argv.push('-o', options.join(','));
      await run('mount', [...argv, request.source, request.target]);
    },
    async unmount(target, options = {}) {
      await run('umount', ['umount', ...(options.lazy === true ? ['-l'] : []), target]);
    },
    async attachLoop(file, options) {
      const output = await run('losetup', ['losetup', '--find', '--show', ...(options.readOnly ? ['--read-only'] : []), file]);
      return output.trim();
    },
    async detachLoop(device) {
      try {
        await run('losetup', ['losetup', '--detach', device]);
      } catch (error) {
        // Autoclear or another caller released it first: detached is what was asked.
        if (error instanceof VolumeSystemError && (error.code === 'ENXIO' || error.code === 'ENOENT')) return;
        throw error;
      }
    },
    run: (argv) => run(argv[0] ?? 'run', argv),
    async close() {},
  };
}

/** The errno name util-linux's message implies, for callers that branch on it. */
function codeOf(stderr: string): string {
  if (/not mounted|no mount point specified/i.test(stderr)) return 'EINVAL';
  if (/no such device or address/i.test(stderr)) return 'ENXIO';
  if (/no such file or directory|does not exist/i.test(stderr)) return 'ENOENT';
  if (/busy/i.test(stderr)) return 'EBUSY';
  if (/no space left/i.test(stderr)) return 'ENOSPC';
  return 'EIO';
}
