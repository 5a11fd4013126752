/**
 * CGI programs started by a small separate process, as Apache's mod_cgid does (1999), instead
 * of by forking this one: the server's side of webhist-spawn-helper (spawn-helper.c, built at
 * install by scripts/build-c.js).
 *
 * Why: Node's spawn() forks the whole server (libuv uses fork() on Linux), and a fork costs more
 * the more memory the parent has: measured 1.2 ms of CPU per spawn at 57 MB RSS, 7.8 ms at 266 MB
 * (bench/results). Apache wrote mod_cgid for the same reason. The helper is a few hundred KB and
 * stays that size, so its vfork() and exec cost the same whatever ours is.
 *
 * Per request: one unix-socket connection to the helper, which becomes the program's stdout (and,
 * through the helper, its stdin); its pid, stderr and exit come back as reports on the helper's
 * stdout. Every rule of spawnProgram() holds: a process group of its own, killed whole when the
 * request ends, the script exits, its time runs out or its client leaves.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FIXED_PATH, valueBytes } from '../cgi/env.ts';
import { processExited, processStarted } from '../live-events.ts';
import type { CgiRequest, ScriptExit, ScriptRun } from '../mode.ts';
import { packageRoot } from '../package-root.ts';
import { spawnFailure } from '../script/diagnose.ts';
import { LineSplitter } from '../script/stderr-lines.ts';
import { killGroup, killTree, letGoAfterExit } from './program.ts';

/** Where `npm install` builds the helper. */
export const spawnHelperBinary = join(packageRoot, 'build', 'webhist-spawn-helper');

export interface SpawnHelper {
  readonly pid: number;
  /** Programs running now. */
  readonly running: number;
  /** Settles when the helper has gone (killed, or closed). */
  readonly exited: Promise<void>;
  run(request: CgiRequest): ScriptRun;
  /** Kills every program still running, then the helper. */
  close(): Promise<void>;
}

/** One program, from the connection made for it to its exit. */
interface Launch {
  request: CgiRequest;
  stderr: LineSplitter;
  pid?: number;
  settle(exit: ScriptExit): void;
  /** Stops it early: the request was cut (its time ran out, its client left). */
  cut(): void;
}

/** Starts the helper; rejects, saying why, where it cannot run (not built: no C compiler at install). */
export async function startSpawnHelper(binary = spawnHelperBinary): Promise<SpawnHelper> {
  if (!existsSync(binary)) throw new Error(`${binary} is not built (there was no C compiler at install)`);
  const dir = await mkdtemp(join(tmpdir(), 'webhist-spawn-'));
  const path = join(dir, 'helper.sock');
  // Its environment is the fixed PATH alone (it finds sh and perl there): nothing of ours must
  // reach the programs it starts, and they are given exactly the environment we build.
  const helper = spawn(binary, [path], { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: FIXED_PATH } });
  const launches = new Map<string, Launch>();
  let nextId = 0;

  const onReport = (kind: string, id: string, value: number, payload?: Buffer) => {
    const launch = launches.get(id);
    if (!launch) return;
    if (kind === 'E' && payload) return launch.stderr.push(payload);
    if (kind === 'S') {
      launch.pid = value;
      processStarted({ pid: value, kind: 'cgi', script: launch.request.script.name });
      // The request was cut while the helper was starting it.
      if (launch.request.signal.aborted) launch.cut();
      return;
    }
    launches.delete(id);
    if (kind === 'F') {
      // The same words as when spawn() fails: the interpreter named, a CRLF #! line spotted.
      const program = launch.request.script.command[0];
      const code = errnoName(value);
      const error = Object.assign(new Error(`spawn ${program} ${code}`), { code });
      return launch.settle({ ok: false, serverFault: true, reason: spawnFailure(program, launch.request.script.file, error) });
    }
    // 'X': the helper has killed what the program left running in its group, as spawnProgram does.
    if (launch.pid !== undefined) processExited({ pid: launch.pid, status: statusWord(value) });
    launch.settle(exitOf(value));
  };

  await new Promise<void>((resolve, reject) => {
    helper.once('error', reject);
    helper.once('exit', (code) => reject(new Error(`it exited (status ${code}) before it was ready`)));
    readReports(helper.stdout, () => resolve(), onReport);
  });
  helper.removeAllListeners('exit').removeAllListeners('error');
  helper.on('error', () => {});
  const exited = new Promise<void>((resolve) =>
    helper.once('exit', () => {
      // It killed what it ran on its way out (or died with it: the kernel's death signal).
      for (const launch of launches.values()) {
        if (launch.pid !== undefined) killGroup(launch.pid);
        launch.settle({ ok: false, serverFault: launch.pid === undefined, reason: 'the spawn helper died' });
      }
      launches.clear();
      void rm(dir, { recursive: true, force: true });
      resolve();
    }),
  );

  return {
    pid: helper.pid ?? 0,
    get running() {
      return launches.size;
    },
    exited,
    run(request) {
      const id = String(nextId++);
      const [program, ...before] = request.script.command;
      const withBody = Number(request.env.CONTENT_LENGTH) > 0;
      const frame = encodeFrame({ id, cwd: dirname(request.script.file), withBody, argv: [program, ...before, ...request.args], env: request.env });
      // allowHalfOpen: the end of the body ends our writing side (the program sees end of file on
      // stdin) while its stdout still flows back.
      const socket = connect({ path, allowHalfOpen: true });
      let settle!: (exit: ScriptExit) => void;
      const exit = new Promise<ScriptExit>((resolve) => {
        settle = resolve;
      });
      const stderr = new LineSplitter((line) => request.logStderr(line));
      // Stopped early, with whatever left its group too. Nobody reads its output any more: the
      // connection is destroyed, or unread bytes in it would keep it from ever closing, and the
      // request from ever finishing (its concurrency slot held for good). Until the helper has
      // said it started, the connection must stay: the frame may not have been read yet.
      const cut = () => {
        if (launch.pid === undefined) return;
        killTree(launch.pid);
        socket.destroy();
      };
      const launch: Launch = { request, stderr, settle, cut };
      launches.set(id, launch);
      request.signal.addEventListener('abort', cut, { once: true });
      // A program may exit without reading its input: EPIPE on the body is not an error, and the
      // request body is left for the gateway to discard. A connection that could not be made
      // (EMFILE: the server is at its descriptor limit) is a start that failed, answered now.
      let connected = false;
      socket.once('connect', () => (connected = true));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (connected || launches.get(id) !== launch) return;
        launches.delete(id);
        settle({
          ok: false,
          serverFault: true,
          reason: `cannot start ${request.script.file}: no connection to the spawn helper (${error.code ?? error.message})`,
        });
      });
      if (withBody) {
        socket.write(frame);
        request.body.pipe(socket);
      } else {
        socket.end(frame);
      }
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      // Once it has exited, nobody reads the rest of the body (a client that left mid-upload
      // never ends it): our side of the connection ends, and it closes when its stdout has, or
      // once silent, if a process that escaped its group holds it (program.ts, letGoAfterExit).
      void exit.then(() => {
        if (withBody) request.body.unpipe(socket);
        socket.end();
        letGoAfterExit(socket);
      });
      // Ended: it has exited, and its stdout (this socket) is closed.
      const finished = Promise.all([exit, closed]).then(([result]) => {
        request.signal.removeEventListener('abort', cut);
        stderr.end();
        return result;
      });
      return {
        stdout: socket,
        finished,
        // Known once the helper has reported the start, a moment after this returns.
        get pid() {
          return launch.pid;
        },
      };
    },
    async close() {
      for (const launch of launches.values()) if (launch.pid !== undefined) killGroup(launch.pid);
      // End of file on its stdin: it kills what is left and exits.
      helper.stdin.end();
      await exited;
    },
  };
}

/**
 * The frame spawn-helper.c reads: a 4-byte little-endian length, then NUL-ended strings. Text
 * is UTF-8; a value copied from the request is its bytes as they came (valueBytes, src/cgi/env.ts).
 */
export function encodeFrame(request: { id: string; cwd: string; withBody: boolean; argv: string[]; env: Record<string, string> }): Buffer {
  const { id, cwd, withBody, argv, env } = request;
  const words: Buffer[] = [id, cwd, withBody ? '1' : '0', String(argv.length), ...argv].map((word) => Buffer.from(`${word}\0`, 'utf8'));
  for (const [name, value] of Object.entries(env)) words.push(Buffer.from(`${name}=`, 'utf8'), valueBytes(name, value), nul);
  const length = words.reduce((sum, word) => sum + word.length, 0);
  const frame = Buffer.allocUnsafe(4);
  frame.writeUInt32LE(length, 0);
  return Buffer.concat([frame, ...words], 4 + length);
}

const nul = Buffer.from([0]);

/** Splits the helper's stdout into its reports: lines, and after an `E` line the bytes it announces. */
function readReports(stdout: NodeJS.ReadableStream, onReady: () => void, onReport: (kind: string, id: string, value: number, payload?: Buffer) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  stdout.on('data', (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    let at = 0;
    for (;;) {
      const end = buffered.indexOf(10, at);
      if (end < 0) break;
      const [kind = '', id = '', value = ''] = buffered.toString('latin1', at, end).split(' ');
      if (kind === 'E') {
        const size = Number(value);
        if (buffered.length < end + 1 + size) break; // the bytes it announces are still on their way
        onReport(kind, id, size, buffered.subarray(end + 1, end + 1 + size));
        at = end + 1 + size;
        continue;
      }
      at = end + 1;
      if (kind === 'READY') onReady();
      else onReport(kind, id, Number(value));
    }
    buffered = buffered.subarray(at);
  });
}

/** A wait status (waitpid(2)) in the words spawnProgram() uses. */
export function exitOf(status: number): ScriptExit {
  const signal = status & 0x7f;
  if (signal !== 0) return { ok: false, reason: `killed by ${nameOf(constants.signals, signal) ?? `signal ${signal}`}` };
  const code = (status >> 8) & 0xff;
  return code === 0 ? { ok: true } : { ok: false, reason: `exited with status ${code}` };
}

/** A wait status as the live view gives it: the exit code, or the signal's name. */
function statusWord(status: number): number | string {
  const signal = status & 0x7f;
  return signal === 0 ? (status >> 8) & 0xff : (nameOf(constants.signals, signal) ?? signal);
}

function errnoName(errno: number): string {
  return nameOf(constants.errno, errno) ?? `errno ${errno}`;
}

function nameOf(table: object, number: number): string | undefined {
  return Object.entries(table).find(([, n]) => n === number)?.[0];
}
