import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The checkout ARS runs from: the nearest directory above this module that holds a package.json. The
 * same directory whether the module runs compiled (dist/src/util) or from source under tsx (src/util).
 */
export const projectRoot: string = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${here}: cannot find the ARS checkout`);
  }
})();
