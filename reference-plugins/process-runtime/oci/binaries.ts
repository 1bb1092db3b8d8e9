import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where `npm run build` puts a compiled helper of this folder: next to its
 * source's compiled module in dist/, or (when this module runs from source,
 * as the kit's tests do) in the package's dist/ folder.
 */
function builtBinary(folder: string, name: string): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.join(here, folder, name);
  if (fs.existsSync(sibling) || here.split(path.sep).includes('dist')) return sibling;
  return path.join(here, '..', '..', '..', 'dist', 'reference-plugins', 'process-runtime', 'oci', folder, name);
}

/** The sandbox's infra process (pause/kubeplug-pause.c), statically linked. */
export const pauseBinary: string = builtBinary('pause', 'kubeplug-pause');

/** The per-container supervisor (shim/kubeplug-shim.c). */
export const shimBinary: string = builtBinary('shim', 'kubeplug-shim');
