/**
 * Where `serve` and `run` find scripts and static files when not told. In a folder of your own
 * with a cgi-bin/ in it, that cgi-bin, and public/ beside it if there is one, else the folder
 * itself, as `python3 -m http.server --cgi` does. Anywhere else (the clone included), the
 * collection webhist ships with.
 */
import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { shippedCgiBin, shippedDocroot } from '../package-root.ts';

export interface Folders {
  cgiBin: string;
  docroot: string;
  /** Taken from the current folder, not the shipped collection: worth saying at start-up. */
  local: boolean;
}

const isDirectory = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;

export function defaultFolders(cwd = process.cwd()): Folders {
  const cgiBin = resolve(cwd, 'cgi-bin');
  if (!isDirectory(cgiBin) || realpathSync(cgiBin) === realpathSync(shippedCgiBin)) {
    return { cgiBin: shippedCgiBin, docroot: shippedDocroot, local: false };
  }
  const publicDir = resolve(cwd, 'public');
  return { cgiBin, docroot: isDirectory(publicDir) ? publicDir : resolve(cwd), local: true };
}
