/**
 * Where webhist is installed: the shipped cgi-bin and docs live there. Found by walking up to
 * our package.json, because this module runs both from src/ (tests) and from dist/src/ (the bin).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(dir: string): string {
  const manifest = join(dir, 'package.json');
  if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'webhist') return dir;
  const parent = dirname(dir);
  if (parent === dir) throw new Error('webhist: cannot find its own package.json');
  return findRoot(parent);
}

export const packageRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
export const shippedCgiBin = join(packageRoot, 'cgi-bin');
export const shippedDocroot = join(packageRoot, 'docs');
