import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root: the nearest folder above this file with a package.json (works from src/ and from dist/src/). */
function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
  return dir;
}

/** Where config/, sql/ and the console's files are found, whether the engine runs from src/ or dist/src/. */
export const ROOT_DIR = findRoot(path.dirname(fileURLToPath(import.meta.url)));
