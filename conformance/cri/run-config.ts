import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CgroupDriver } from '../../specs/cri/index.js';
import { provisionSuiteImages, type SuiteImages } from './suite-images.js';

/** The flags of a CRI run beyond the endpoints, checked before anything starts. */
export interface CriRunSettings {
  /** `HOST[:PORT]` of a registry the runtime pulls from and the suite pushes to; unset: the suite starts one on 127.0.0.1. */
  readonly registry?: string;
  /** `cgroup_parent` of every sandbox the suite runs; unset: one of the suite's own, removed at the end. */
  readonly cgroupParent?: string;
  /** A command that restarts the runtime on the same endpoints; cases that restart it need one. */
  readonly restartCommand?: string;
}

/** A flag that cannot be used; the message names it. */
export class CriRunConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CriRunConfigError';
  }
}

/** `host`, `host:port`, `[v6]:port`: what an image reference may start with. */
const registryHostPattern = /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:]+\])(?::\d{1,5})?$/i;

/**
 * Checks the run flags as given: a registry must be a bare `HOST[:PORT]`
 * (no scheme, no path), a cgroup parent an absolute cgroupfs path or a
 * systemd slice name.
 */
export function loadCriRunSettings(input: CriRunSettings): CriRunSettings {
  if (input.registry !== undefined && !registryHostPattern.test(input.registry)) {
    throw new CriRunConfigError(`--registry: ${JSON.stringify(input.registry)} is not HOST[:PORT] (no scheme, no path), e.g. 127.0.0.1:5000`);
  }
  if (input.cgroupParent !== undefined && !input.cgroupParent.startsWith('/') && !input.cgroupParent.endsWith('.slice')) {
    throw new CriRunConfigError(`--cgroup-parent: ${JSON.stringify(input.cgroupParent)} is neither an absolute cgroupfs path (/kubepods) nor a systemd slice (kubepods.slice)`);
  }
  if (input.restartCommand !== undefined && input.restartCommand.trim() === '') {
    throw new CriRunConfigError('--restart-command: the command is empty');
  }
  return input;
}

/** A prepared run: where images come from and where the suite's pods live. */
export interface CriRun {
  /** The registry host images are pulled from. */
  readonly registry: string;
  /** Whether the suite started that registry (on 127.0.0.1) itself. */
  readonly ownsRegistry: boolean;
  /** References of the suite's test images, pushed to the registry. */
  readonly images: SuiteImages;
  /** `cgroup_parent` of every sandbox. */
  readonly cgroupParent: string;
  readonly restartCommand?: string;
  /** A folder of the suite's, on the runtime's machine, holding each pod's log directory and host-path mounts. */
  readonly workDir: string;
  /** Stops the registry the suite started and removes what it made; idempotent. */
  close(): Promise<void>;
}

/**
 * Prepares a run: starts a loopback registry unless one was given, builds
 * and pushes the test images, and picks the cgroup parent (a cgroupfs path
 * of the suite's own, or a slice when the runtime says it drives cgroups
 * through systemd).
 */
export async function prepareCriRun(settings: CriRunSettings, discovered: { cgroupDriver?: CgroupDriver | undefined }): Promise<CriRun> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-cri-'));
  const undo: (() => unknown)[] = [() => fs.rmSync(workDir, { recursive: true, force: true })];
  let closing: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (closing ??= (async () => {
      for (const step of undo.splice(0).reverse()) {
        try {
          await step();
        } catch {
          // best effort: one stuck step must not keep the others from running
        }
      }
    })());
  try {
    const provisioned = await provisionSuiteImages({
      ...(settings.registry === undefined ? {} : { registry: settings.registry }),
      dir: path.join(workDir, 'registry'),
    });
    undo.push(() => provisioned.stop());
    const ownsCgroupParent = settings.cgroupParent === undefined;
    const cgroupParent =
      settings.cgroupParent ??
      (discovered.cgroupDriver === CgroupDriver.SYSTEMD ? 'kubeplug_cri_suite.slice' : `/kubeplug-cri-suite-${randomBytes(3).toString('hex')}`);
    if (ownsCgroupParent && cgroupParent.startsWith('/')) undo.splice(1, 0, () => removeEmptyCgroups(cgroupParent));
    return {
      registry: provisioned.registry,
      ownsRegistry: settings.registry === undefined,
      images: provisioned.images,
      cgroupParent,
      ...(settings.restartCommand === undefined ? {} : { restartCommand: settings.restartCommand }),
      workDir,
      close: release,
    };
  } catch (error) {
    await release();
    throw error;
  }
}

/**
 * Removes the suite's cgroupfs parent from every hierarchy, deepest first,
 * where it is empty; a runtime that left a pod's cgroup behind keeps it (and
 * the machine shows the leak).
 */
function removeEmptyCgroups(parent: string): void {
  const root = '/sys/fs/cgroup';
  const hierarchies = [root, ...safeList(root).map((name) => path.join(root, name))];
  for (const hierarchy of hierarchies) {
    const top = path.join(hierarchy, parent);
    for (const dir of treeDeepestFirst(top)) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // not empty or not there: left as found
      }
    }
  }
}

function treeDeepestFirst(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return [...entries.filter((entry) => entry.isDirectory()).flatMap((entry) => treeDeepestFirst(path.join(dir, entry.name))), dir];
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
