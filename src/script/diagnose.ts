/**
 * Why a script could not be started, or cannot be read as a module, in words that send a
 * learner the right way. The operating system says only `spawn /srv/cgi-bin/hello.pl ENOENT`,
 * naming the script (which exists) when what is missing is the interpreter on its `#!` line,
 * often `/usr/bin/perl\r`: the line ends of a file saved on Windows, the best-known CGI mistake.
 * The explanations are pure functions of what was observed, so each case is tested as a table.
 */
import { execFile } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';

/** Bytes read from the top of a script: enough for any #! line a kernel would honour. */
const headBytes = 256;

/**
 * Explains a failed spawn. `program` is what was started (the script itself, or an interpreter
 * chosen by its extension), `head` the first bytes of the script, `error` what spawn reported.
 */
export function explainSpawnFailure(program: string, script: string, head: Buffer | undefined, error: NodeJS.ErrnoException): string {
  const startedItself = program === script;
  const firstLine = head?.toString('latin1').split('\n', 1)[0] ?? '';
  const shebang = startedItself && firstLine.startsWith('#!') ? firstLine.slice(2).trim() : undefined;
  switch (error.code) {
    case 'ENOENT':
      if (!startedItself)
        return `cannot start ${script}: its interpreter ${program} is not installed (or not on the PATH a script gets: /usr/local/bin:/usr/bin:/bin)`;
      if (shebang === undefined) return `cannot start ${script}: the file went away`;
      if (firstLine.endsWith('\r')) {
        return `cannot start ${script}: its #! line ends in \\r (the file has Windows CRLF line ends), so the system looks for an interpreter named ${JSON.stringify(`${shebang.split(/\s/)[0]}\r`)}; save it with LF line ends (dos2unix ${script})`;
      }
      return `cannot start ${script}: the interpreter on its #! line, ${shebang.split(/\s/)[0]}, does not exist`;
    case 'ENOEXEC':
      return `cannot start ${script}: it is executable but not a program the system can run; begin it with a #! line, e.g. #!/bin/sh`;
    case 'EACCES':
      return startedItself && shebang !== undefined
        ? `cannot start ${script}: permission denied (is its #! interpreter, ${shebang.split(/\s/)[0]}, executable?)`
        : `cannot start ${script}: permission denied (chmod +x ${script})`;
    default:
      return `cannot start ${program}: ${error.message}`;
  }
}

/** The same, reading the script's first bytes itself: the one call a runner makes when spawn fails. */
export function spawnFailure(program: string, script: string, error: NodeJS.ErrnoException): string {
  return explainSpawnFailure(program, script, readHead(script), error);
}

function readHead(file: string): Buffer | undefined {
  try {
    const fd = openSync(file, 'r');
    try {
      const head = Buffer.alloc(headBytes);
      return head.subarray(0, readSync(fd, head, 0, headBytes, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/**
 * Where `node --check` says a module's syntax breaks, as `file:line:column: message`; undefined
 * when it reports no syntax error. Its report reads:
 *
 *     /srv/cgi-bin/x.js:2
 *       stdout.write("x"
 *                    ^^^
 *
 *     SyntaxError: missing ) after argument list
 */
export function parseSyntaxCheck(report: string): string | undefined {
  const message = /^SyntaxError: (.*)$/m.exec(report)?.[1];
  if (message === undefined) return undefined;
  const lines = report.split('\n');
  const where = /^(.*):(\d+)$/.exec(lines[0] ?? '');
  if (!where) return message;
  const caret = lines.slice(1, 4).find((line) => /^\s*\^+\s*$/.test(line));
  const column = caret ? caret.indexOf('^') + 1 : undefined;
  return `${where[1]}:${where[2]}${column ? `:${column}` : ''}: ${message}`;
}

/**
 * Asks Node itself (`node --check`, which parses and never runs) whether a file has a syntax
 * error: es-module-lexer only says it could not lex the file, and at 1:1.
 */
export function findSyntaxError(file: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--check', file], { timeout: 10_000, env: {} }, (error, _stdout, stderr) => {
      resolve(error ? parseSyntaxCheck(stderr) : undefined);
    });
  });
}
