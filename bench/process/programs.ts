/**
 * The software nobody here wrote that the bench and the interop tests drive, where to find it,
 * and which Debian package provides it. A program that is not installed is never a failure:
 * the caller skips, and `missing()` says what to install.
 */
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Each program and its Debian package (the names CI's .ci/run installs). */
const debianPackage = {
  nginx: 'nginx-light',
  lighttpd: 'lighttpd',
  fcgiwrap: 'fcgiwrap',
  'spawn-fcgi': 'spawn-fcgi',
  'cgi-fcgi': 'libfcgi-bin',
  'php-cgi': 'php-cgi',
  'php-fpm': 'php-fpm',
  wrk: 'wrk',
  hyperfine: 'hyperfine',
  websocketd: 'websocketd',
} as const;

export type Program = keyof typeof debianPackage;

/** Debian names php-fpm after its PHP version (php-fpm8.2): the highest version found wins. */
const versioned: Partial<Record<Program, RegExp>> = { 'php-fpm': /^php-fpm[\d.]*$/ };

/** Finds a program on PATH, and in the sbin directories a non-root PATH often lacks. */
export function findProgram(name: Program): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  const pattern = versioned[name];
  for (const dir of dirs) {
    if (existsSync(join(dir, name))) return join(dir, name);
    const found =
      pattern &&
      entries(dir)
        .filter((f) => pattern.test(f))
        .sort()
        .at(-1);
    if (found) return join(dir, found);
  }
  return undefined;
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A skip reason naming what to install, or false when every program is here. */
export function missing(...programs: Program[]): string | false {
  const absent = programs.filter((p) => !findProgram(p));
  if (absent.length === 0) return false;
  return `${absent.join(' and ')} not installed (apt-get install ${absent.map((p) => debianPackage[p]).join(' ')})`;
}
