/**
 * What a file in cgi-bin is and how to start it, decided without running it (DESIGN.md,
 * "The script contract"): a handler is a .js/.mjs/.ts module whose source has an
 * `export default` (read statically with es-module-lexer); anything else is a program.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, parse } from 'es-module-lexer';
import { findSyntaxError } from './diagnose.ts';

export interface Script {
  /** The URL path that names it, e.g. /cgi-bin/hello.sh: SCRIPT_NAME (RFC 3875 §4.1.13). */
  name: string;
  /** Its absolute path on disk: SCRIPT_FILENAME. */
  file: string;
  /** A JS/TS module with `export default` (a handler), or any other program. */
  kind: 'handler' | 'program';
  /** Named nph-*: it writes the whole HTTP response itself (RFC 3875 §5). */
  nph: boolean;
  /** How a process runs it: the program, then the arguments that come before §4.4's words. */
  command: [string, ...string[]];
  /** A handler with a WebSocket entry (`export function websocket`, docs/websocket.md). */
  websocket: boolean;
  /** Its modification time when described: a changed file is described (and imported) anew. */
  mtimeMs: number;
}

/** The runner a handler gets under CGI: one process, one call, exit. Beside this file as .ts or .js. */
const shim = fileURLToPath(new URL(`./cgi-shim${extname(import.meta.url)}`, import.meta.url));

const jsExtensions = new Set(['.js', '.mjs', '.ts']);

/** Interpreters by extension, for files that are not executable themselves. */
const interpreters: Record<string, string> = {
  '.sh': 'sh',
  '.pl': 'perl',
  '.py': 'python3',
  // php-cgi finds the script through SCRIPT_FILENAME, as under Apache and nginx.
  '.php': 'php-cgi',
};

export class ScriptError extends Error {
  override name = 'ScriptError';
}

/** A file in cgi-bin that is no script at all (a C source, a README): the client is told 403, not 500. */
export class NotAScript extends ScriptError {
  override name = 'NotAScript';
}

/** Sources of compiled languages: what to do with one is to compile it. */
const sourceExtensions = new Set(['.c', '.h', '.cc', '.cpp', '.go', '.rs', '.java']);

const cache = new Map<string, Script>();

/** Describes the script at `file`, reached as `name`; cached until the file changes. */
export async function describeScript(file: string, name: string): Promise<Script> {
  const info = await stat(file);
  const cached = cache.get(file);
  if (cached && cached.mtimeMs === info.mtimeMs && cached.name === name) return cached;

  const ext = extname(file);
  const nph = basename(file).startsWith('nph-');
  const exports = jsExtensions.has(ext) ? await readExports(file) : undefined;
  const base = { name, file, nph, mtimeMs: info.mtimeMs, websocket: exports instanceof Set && exports.has('websocket') };
  let script: Script;
  if (exports instanceof Set && (exports.has('default') || base.websocket)) {
    script = { ...base, kind: 'handler', command: [process.execPath, shim, file] };
  } else if (info.mode & 0o111) {
    script = { ...base, kind: 'program', command: [file] };
  } else if (jsExtensions.has(ext)) {
    // Node will run it: where the lexer gave up, node --check says whether, and where, it is broken.
    const syntaxError = exports === 'unparsed' ? await findSyntaxError(file) : undefined;
    if (syntaxError) throw new ScriptError(`syntax error at ${syntaxError}`);
    script = { ...base, kind: 'program', command: [process.execPath, file] };
  } else if (ext === '.php') {
    script = { ...base, kind: 'program', command: ['php-cgi'] };
  } else if (interpreters[ext]) {
    script = { ...base, kind: 'program', command: [interpreters[ext], file] };
  } else {
    const what = sourceExtensions.has(ext) ? `a ${ext} source file: compile it into a program first` : 'not executable';
    throw new NotAScript(`${name} is not a script: ${what} (and no interpreter is known for "${ext || 'no extension'}")`);
  }
  cache.set(file, script);
  return script;
}

/** True when the module's source declares a default export. It is never executed to find out. */
export async function hasDefaultExport(file: string): Promise<boolean> {
  const exports = await readExports(file);
  return exports instanceof Set && exports.has('default');
}

/**
 * How a process runs the script for one WebSocket connection (docs/websocket.md): a program as
 * it is, a handler through the shim calling its WebSocket entry.
 */
export function socketCommand(script: Script): [string, ...string[]] {
  return script.kind === 'handler' ? [process.execPath, shim, script.file, '--websocket'] : script.command;
}

/** What the lexer finds: the names a module exports, or source it cannot read (broken, or CommonJS it rejects). */
async function readExports(file: string): Promise<Set<string> | 'unparsed'> {
  await init;
  const source = await readFile(file, 'utf8');
  try {
    const [, exports] = parse(source, file);
    return new Set(exports.flatMap((e) => ('name' in e && !e.typeOnly ? [e.name] : [])));
  } catch {
    return 'unparsed';
  }
}
