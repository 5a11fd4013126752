/**
 * From request path to file: decode and normalise first, then map onto cgi-bin or the docroot.
 *
 * Order matters. Apache 2.4.49 removed dot segments before the path was fully decoded and
 * missed the spelling `.%2e`, so `/cgi-bin/.%2e/%2e%2e/bin/sh` survived normalisation, was
 * decoded later, climbed out of cgi-bin and ran /bin/sh (CVE-2021-41773; 2.4.50's fix fell
 * to the double-encoded `%%32%65`, CVE-2021-42013). Here the path is decoded
 * exactly once, refused if anything in it is ambiguous, and only then are dot segments
 * removed. Mapping onto disk then resolves symlinks and checks the real path is still inside
 * the real root, so a link pointing out is as dead as a `..`.
 */
import { realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, sep } from 'node:path';

/** A script under cgi-bin and how the request path splits around it. */
export interface ScriptLocation {
  /** Absolute real path of the script (symlinks resolved). */
  file: string;
  /** The path segments naming the script, e.g. "/hello.sh": RFC 3875 §4.1.13 SCRIPT_NAME after /cgi-bin. */
  scriptPath: string;
  /** What follows the script, e.g. "/extra/path", or "": RFC 3875 §4.1.5 PATH_INFO. */
  pathInfo: string;
}

/** A regular file to send, or a directory asked for without its trailing slash. */
export type StaticTarget = { file: string; stat: Stats } | { redirect: string };

// C0 controls, DEL and C1 controls: never part of a name we want to serve or run.
const CONTROL = /\p{Cc}/u;
/** Segments of printable ASCII other than '%', '/' and '\\', none empty (but the last), '.' or '..'. */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[\x21-\x24\x26-\x2e\x30-\x5b\x5d-\x7e]+)*\/?$/;

/**
 * The path part of a request target, decoded once and normalised; undefined (answer 400) if
 * it is malformed or ambiguous. Keeps a trailing slash: it says "the directory".
 */
export function normalizeRequestPath(rawPath: string): string | undefined {
  if (!rawPath.startsWith('/')) return undefined;
  // Most paths need nothing done: printable ASCII, nothing encoded, no backslash, no empty or
  // dot segment. For them the full algorithm would give back what it was given.
  return PLAIN_PATH.test(rawPath) ? rawPath : decodeAndNormalize(rawPath);
}

/**
 * Whether a normalised path names something never served nor run, answered 404 as if absent:
 * - a dot name, file or directory (`.git/config`, `.env`, `.htpasswd`, emacs's `.#lock`): a
 *   folder served as it is (webhist serves the current one by default) holds them, and they
 *   hold secrets. RFC 8615's `/.well-known/` is the one exception a site may need.
 * - an editor's backup or swap file (`page.html~`, `.bak`, `.orig`, `.swp`, `.swo`, emacs's
 *   `#page.html#`): the source of a page or script, readable as plain text under a name no
 *   handler recognises (the classic `index.php~` leak).
 */
export function isHiddenPath(path: string): boolean {
  const rest = path === wellKnown || path.startsWith(`${wellKnown}/`) ? path.slice(wellKnown.length) : path;
  return HIDDEN.test(rest);
}
const wellKnown = '/.well-known';
/**
 * isHiddenSegment's rule for every segment of a normalised path at once, one regular expression
 * per request instead of several per segment (test/paths.test.ts holds the two to agree).
 */
const HIDDEN = /\/(?:\.|#[^/]*#(?:\/|$))|~(?:\/|$)|\.(?:bak|orig|swp|swo)(?:\/|$)/i;

/** The rule, one segment at a time. */
export function isHiddenSegment(segment: string): boolean {
  return segment.startsWith('.') || segment.endsWith('~') || /\.(?:bak|orig|swp|swo)$/i.test(segment) || /^#.*#$/.test(segment);
}

/** The full algorithm, for a path that starts with '/'; exported for the test that holds the shortcut to it. */
export function decodeAndNormalize(rawPath: string): string | undefined {
  const raw = rawPath.split('/');
  const stack: string[] = [];
  for (const [i, part] of raw.entries()) {
    let segment: string;
    try {
      // Throws on `%zz`, a lone `%` and escapes that are not UTF-8: refused, not guessed at.
      segment = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    // An encoded slash would make one segment look like two (or the reverse) depending on
    // who decodes; a backslash is a separator on Windows and to some proxies. Refuse both.
    if (CONTROL.test(segment) || segment.includes('/') || segment.includes('\\')) return undefined;
    const last = i === raw.length - 1;
    // RFC 3986 §5.2.4 remove_dot_segments, on the decoded segments. A final "." or ".."
    // leaves a trailing slash, as the RFC's algorithm does ("/a/b/.." is "/a/").
    if (segment === '..') {
      // The RFC clamps at the root; we refuse, since no honest client sends this.
      if (stack.pop() === undefined) return undefined;
      if (last) stack.push('');
    } else if (segment === '.' || segment === '') {
      // Empty segments are repeated slashes, collapsed; the final one is the trailing slash.
      if (last) stack.push('');
    } else {
      stack.push(segment);
    }
  }
  return `/${stack.join('/')}`;
}

/**
 * Finds the script a normalised path after `/cgi-bin` names: the first segment, left to
 * right, that is a regular file. Undefined (answer 404) for no file, a dotfile or dot
 * directory on the way, or anything whose real path leads out of cgi-bin.
 */
export async function resolveScript(cgiBinDir: string, rest: string): Promise<ScriptLocation | undefined> {
  // Computed per call: cgi-bin may be replaced or relinked while the server runs.
  const root = await realpathOrUndefined(cgiBinDir);
  if (root === undefined) return undefined;
  const segments = rest.split('/').filter((s) => s !== '');
  let dir = root;
  for (const [i, segment] of segments.entries()) {
    if (segment.startsWith('.')) return undefined;
    const found = await locate(root, join(dir, segment));
    if (found === undefined) return undefined;
    if (found.stat.isFile()) {
      const scriptPath = `/${segments.slice(0, i + 1).join('/')}`;
      return { file: found.file, scriptPath, pathInfo: rest.slice(scriptPath.length) };
    }
    if (!found.stat.isDirectory()) return undefined; // a FIFO, socket or device is no script
    dir = found.file;
  }
  return undefined;
}

/**
 * Maps a normalised path onto a regular file inside the docroot. A directory means its
 * index.html; asked for without the trailing slash it is a redirect to the slashed path
 * (relative links inside the page need it), as CERN httpd and Apache's mod_dir answered.
 */
export async function resolveStatic(docroot: string, path: string): Promise<StaticTarget | undefined> {
  const root = await realpathOrUndefined(docroot);
  if (root === undefined) return undefined;
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.some((s) => s.startsWith('.'))) return undefined;
  const found = await locate(root, join(root, ...segments));
  if (found === undefined) return undefined;
  if (found.stat.isDirectory()) {
    if (!path.endsWith('/')) return { redirect: `${path}/` };
    // index.html may itself be a symlink leading out: locate checks it like any other.
    const index = await locate(root, join(found.file, 'index.html'));
    return index?.stat.isFile() ? index : undefined;
  }
  // "/a.txt/" asks for a directory; a file is not one (Apache answers 404 too).
  return found.stat.isFile() && !path.endsWith('/') ? found : undefined;
}

/** The real path and stat of `path`, if it exists and its real path is inside `root`. */
async function locate(root: string, path: string): Promise<{ file: string; stat: Stats } | undefined> {
  const file = await realpathOrUndefined(path);
  if (file === undefined || !isInside(root, file)) return undefined;
  try {
    return { file, stat: await stat(file) };
  } catch (error) {
    if (isNotFound(error)) return undefined; // removed since realpath looked
    throw error;
  }
}

/** Whether a real path (symlinks resolved) is `root` or lies under it. */
export function isInside(root: string, real: string): boolean {
  // The separator matters: /srv/cgi-bin-evil starts with /srv/cgi-bin.
  return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
}

// These mean "there is no such file here"; anything else (EMFILE, EIO) is a server fault
// and propagates, so the caller answers 500 instead of a misleading 404.
const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EACCES', 'ENAMETOOLONG']);

async function realpathOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return NOT_FOUND.has((error as NodeJS.ErrnoException).code ?? '');
}
