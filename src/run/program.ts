/**
 * The first of the two script runners every mode composes: spawn a program in a process group
 * of its own, for one request. CGI mode runs every script this way (NCSA httpd, 1993; RFC 3875),
 * the FastCGI worker runs plain programs this way (as fcgiwrap does), and `webhist run` runs one.
 *
 * The program's working directory is the directory holding it (RFC 3875 §7.2), the request body
 * is its stdin, its environment is the one the server built (nothing of ours leaks in), and its
 * stdout is the response. When the request ends (normally, by timeout, or because the client
 * left) the whole group is killed, so nothing the script started outlives its request.
 *
 * child_process.spawn, not execa (which this project uses for every other process it starts):
 * this is the hot path of CGI mode, one start per request, and execa measured 1.23–1.44× slower
 * per start here (bench/spawn-vs-execa.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { FIXED_PATH, textEnvironment } from '../cgi/env.ts';
import { processExited, processStarted } from '../live-events.ts';
import { descendants, procAvailable } from '../proc.ts';
import type { CgiRequest, ScriptExit, ScriptRun } from '../mode.ts';
import { spawnFailure } from '../script/diagnose.ts';
import { forEachLine } from '../script/stderr-lines.ts';

/** The process groups of the programs running now: for a mode's status page and its close(). */
export class ProcessGroups {
  readonly #groups = new Set<number>();

  get size(): number {
    return this.#groups.size;
  }

  add(group: number): void {
    this.#groups.add(group);
  }

  delete(group: number): void {
    this.#groups.delete(group);
  }

  killAll(): void {
    for (const group of this.#groups) killGroup(group);
  }
}

/** Starts one program for one request; `groups`, if given, knows it while it runs. */
export function spawnProgram(request: CgiRequest, groups?: ProcessGroups): ScriptRun {
  const [program, ...before] = request.script.command;
  const child = spawn(program, [...before, ...request.args], {
    // spawn() writes every value as UTF-8: a header's bytes survive where they are UTF-8.
    env: textEnvironment(request.env),
    cwd: dirname(request.script.file),
    // A new session and process group: the timeout and a vanished client kill all of it.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const group = child.pid;
  if (group === undefined) return failedStart(child, program, request);
  groups?.add(group);
  processStarted({ pid: group, kind: 'cgi', script: request.script.name });

  const stop = () => killGroup(group);
  // Stopped early (its time ran out, its client left): with whatever left the group too.
  const cut = () => killTree(group);
  request.signal.addEventListener('abort', cut, { once: true });

  // A script may exit without reading its input: EPIPE on its stdin is not an error, and the
  // request body must not be destroyed for it (pipeline() would); the gateway discards the rest.
  child.stdin.on('error', () => {});
  request.body.pipe(child.stdin);
  forEachLine(child.stderr, (line) => request.logStderr(line));

  // The request ends when the script exits. Whatever it left running in its group (a
  // backgrounded `sleep` that inherited stdout and would hold the response open) goes with it;
  // what the script already wrote stays readable in the pipe. What escaped the group is not
  // waited for: its copies of the pipes are let go once they fall silent.
  child.once('exit', () => {
    stop();
    // Node's pipes to a child are net.Sockets.
    letGoAfterExit(child.stdout as Socket);
    letGoAfterExit(child.stderr as Socket);
  });
  const finished = new Promise<ScriptExit>((resolve) => {
    child.once('error', (error) => {
      resolve({ ok: false, serverFault: true, reason: spawnFailure(program, request.script.file, error) });
    });
    child.once('close', (code, signal) => {
      request.signal.removeEventListener('abort', cut);
      groups?.delete(group);
      processExited({ pid: group, status: signal ?? code ?? 0 });
      if (code === 0) resolve({ ok: true });
      else resolve({ ok: false, reason: signal ? `killed by ${signal}` : `exited with status ${code}` });
    });
  });
  return { stdout: child.stdout, finished, pid: group };
}

/**
 * A spawn() that failed (EMFILE at the descriptor limit, ENOENT, EACCES): there is no pid and
 * no stdio, and the ChildProcess emits 'error' on the next turn, which with no listener would
 * end the server. The request gets an answer instead: a ScriptRun with an empty stdout whose
 * end names the reason (the gateway answers 500 and logs it); the body is left for it to discard.
 */
function failedStart(child: ChildProcess, program: string, request: CgiRequest): ScriptRun {
  const finished = new Promise<ScriptExit>((resolve) => {
    child.once('error', (error) => resolve({ ok: false, serverFault: true, reason: spawnFailure(program, request.script.file, error) }));
  });
  // Where the pipes were made before the start failed (ENOENT, EACCES), nobody will read them.
  for (const stream of child.stdio ?? []) stream?.destroy();
  return { stdout: Readable.from([]), finished, pid: undefined };
}

/**
 * Kills a running script's process group and every process still descended from it, found by
 * following parents through /proc: a child that called setsid() (a session and group of its own)
 * escapes kill(-group) but not this, as long as its parent lives. What this cannot find is a
 * process both out of the group and orphaned (a double fork, a daemon): its parent is init by
 * then. Only a cgroup per request would hold those (docs/security.md). Used when a script is
 * stopped early; reading /proc costs a few milliseconds, too much for every normal exit.
 */
export function killTree(group: number): void {
  const below = procAvailable ? descendants(group) : [];
  killGroup(group);
  for (const pid of below) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/**
 * How long a program's output pipe may stay open and silent after the program has exited. Only
 * a process that left its group can hold it (setsid, a double fork: the group kill missed it),
 * and it must not pin the request until it ends (issue #15: 47 s past a 3 s --timeout).
 */
const silentAfterExitMs = 1000;

/**
 * Destroys `pipe` once it has been silent for a moment after its program exited. What the
 * program wrote before it exited is not lost: while its reader holds back (a slow client), the
 * bytes wait in the stream's buffer, and a pipe with bytes to deliver, or that delivered some
 * since the last look, is waited for.
 */
export function letGoAfterExit(pipe: Socket | null | undefined): void {
  if (!pipe || pipe.readableEnded || pipe.destroyed) return;
  let read = pipe.bytesRead;
  const timer = setTimeout(() => {
    if (pipe.readableEnded || pipe.destroyed) return;
    if (pipe.readableLength > 0 || pipe.bytesRead !== read) {
      read = pipe.bytesRead;
      return void timer.refresh();
    }
    pipe.destroy();
  }, silentAfterExitMs);
  timer.unref();
  pipe.once('close', () => clearTimeout(timer));
}

export function killGroup(group: number): void {
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Where a program is on the fixed PATH every script gets, if it is there. */
export function findProgram(name: string): string | undefined {
  return FIXED_PATH.split(delimiter)
    .map((dir) => join(dir, name))
    .find((path) => existsSync(path));
}
