import fs from 'node:fs';
import path from 'node:path';

/**
 * Removes a folder tree bottom-up, but only folders that are empty: a file or
 * a mount point a plugin left behind stays (and its parents), so a plugin's
 * leftover mount never gets its contents deleted through it.
 * @returns the paths that could not be removed
 */
export function removeEmptyFolders(root: string): string[] {
  const left: string[] = [];
  let device: number;
  try {
    device = fs.statSync(root).dev;
  } catch {
    return left;
  }
  const visit = (dir: string): void => {
    // Another device here means a mount point: never look inside it.
    if (fs.statSync(dir, { throwIfNoEntry: false })?.dev !== device) {
      left.push(dir);
      return;
    }
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) visit(path.join(dir, entry.name));
    }
    try {
      fs.rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  };
  visit(root);
  return left;
}
