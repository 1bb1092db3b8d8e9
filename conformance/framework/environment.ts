import { execFile } from 'node:child_process';
import os from 'node:os';
import type { Environment } from './subject.js';

/** Looks at the machine once, before a run: what needs root or namespaces can be done. */
export async function probeEnvironment(): Promise<Environment> {
  const isRoot = process.getuid?.() === 0;
  return {
    isRoot,
    canCreateNetns: isRoot && (await commandWorks('ip', ['netns', 'list'])),
    platform: process.platform,
    arch: process.arch,
    kernel: os.release(),
    node: process.version,
  };
}

function commandWorks(command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 5000 }, (error) => resolve(error === null));
  });
}
