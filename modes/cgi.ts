/**
 * CGI mode (NCSA httpd, 1993; RFC 3875): one process per request. The script runs in a
 * process group of its own, with the directory holding it as its working directory (RFC 3875
 * §7.2), the request body on stdin and the environment the server built; its stdout is the
 * response. When the request ends (normally, by timeout, or because the client left), the
 * whole group is killed, so nothing the script started outlives its request.
 */
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import type { CgiRequest, Mode, ScriptExit, ScriptRun } from '../src/mode.ts';
import { spawnFailure } from '../src/script/diagnose.ts';
import { forEachLine } from '../src/script/stderr-lines.ts';

export function createCgiMode(): Mode {
  const groups = new Set<number>();
  return {
    name: 'cgi',
    run(request) {
      return spawnScript(request, groups);
    },
    status: () => ({ mode: 'cgi', running: groups.size }),
    async close() {
      for (const group of groups) killGroup(group);
    },
  };
}

/** Starts one CGI program for one request. Also used by FastCGI mode, the way fcgiwrap does. */
export function spawnScript(request: CgiRequest, groups = new Set<number>()): ScriptRun {
  const [program, ...before] = request.script.command;
  const child = spawn(program, [...before, ...request.args], {
    env: request.env,
    cwd: dirname(request.script.file),
    // A new session and process group: the timeout and a vanished client kill all of it.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const group = child.pid;
  if (group !== undefined) groups.add(group);

  const stop = () => group !== undefined && killGroup(group);
  request.signal.addEventListener('abort', stop, { once: true });

  // A script may exit without reading its input: EPIPE on its stdin is not an error, and the
  // request body must not be destroyed for it (pipeline() would); the gateway discards the rest.
  child.stdin.on('error', () => {});
  request.body.pipe(child.stdin);
  forEachLine(child.stderr, (line) => request.logStderr(line));

  // The request ends when the script exits. Whatever it left running in its group (a
  // backgrounded `sleep` that inherited stdout and would hold the response open) goes with it;
  // what the script already wrote stays readable in the pipe.
  child.once('exit', stop);
  const finished = new Promise<ScriptExit>((resolve) => {
    child.once('error', (error) => {
      resolve({ ok: false, notStarted: true, reason: spawnFailure(program, request.script.file, error) });
    });
    child.once('close', (code, signal) => {
      request.signal.removeEventListener('abort', stop);
      if (group !== undefined) groups.delete(group);
      if (code === 0) resolve({ ok: true });
      else resolve({ ok: false, reason: signal ? `killed by ${signal}` : `exited with status ${code}` });
    });
  });
  return { stdout: child.stdout, finished };
}

function killGroup(group: number): void {
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}
