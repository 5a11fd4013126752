/**
 * The attacker's side of issue #15: webhist driven only through its real interface. A server
 * is the built CLI (`bin/webhist.js serve`) started as a separate process by the project's
 * process tooling, over a temporary cgi-bin; the tests talk to it with raw sockets on
 * 127.0.0.1 and look at it from outside (/proc: its tree, memory, descriptors). Nothing here
 * imports the server's internals, so the tests outlive a rewrite of them.
 */
import { cp, mkdir, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cleanEnv, freePort, launch, stop, waitForListener, type Launched } from '../../bench/process/launch.ts';
import { packageRoot, shippedCgiBin } from '../../src/package-root.ts';
import { readProcessTable, treeOf, treeRssBytes } from '../../src/proc.ts';

import { get, rawRequest } from '../support/http.ts';
import { modeNames, type ModeName } from '../../src/mode.ts';

export { eventually, get, rawRequest, type RawResponse } from '../support/http.ts';

export const webhistBin = join(packageRoot, 'bin/webhist.js');
/** Every mode, as the server names them (src/mode.ts). */
export const modes = modeNames;
export type { ModeName };

export interface Target {
  launched: Launched;
  pid: number;
  port: number;
  dir: string;
  cgiBin: string;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Scripts added to a copy of the shipped cgi-bin; `$TMP` becomes the temporary directory. */
  scripts?: Record<string, string>;
  /** More `serve` options (--timeout, --max-concurrency ...); `$TMP` becomes the temporary directory. */
  args?: string[];
  /** Added to the clean environment (PATH, HOME) the server gets. */
  env?: Record<string, string>;
  /** Runs the server under this command, e.g. ['sh', '-c', 'ulimit -n 256 && exec "$@"', 'sh']. */
  wrapper?: string[];
  /** Extra files under the temporary directory (e.g. a docroot). */
  files?: Record<string, string>;
}

async function scratch(scripts: Record<string, string>, files: Record<string, string>): Promise<{ dir: string; cgiBin: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'webhist-attack-'));
  const cgiBin = join(dir, 'cgi-bin');
  await cp(shippedCgiBin, cgiBin, { recursive: true });
  for (const [name, text] of Object.entries(scripts)) {
    const file = join(cgiBin, name);
    await writeFile(file, text.replaceAll('$TMP', dir));
    if (text.startsWith('#!')) await chmod(file, 0o755);
  }
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return { dir, cgiBin };
}

/** `webhist serve --mode M --port 0` as its own process; resolves once its ready line names the port. */
export async function serve(mode: ModeName, options: TargetOptions = {}): Promise<Target> {
  const { dir, cgiBin } = await scratch(options.scripts ?? {}, options.files ?? {});
  const argv = [
    webhistBin,
    'serve',
    '--mode',
    mode,
    '--port',
    '0',
    '--cgi-bin',
    cgiBin,
    '--quiet',
    ...(options.args ?? []).map((a) => a.replaceAll('$TMP', dir)),
  ];
  const [command, ...args] = options.wrapper ? [...options.wrapper, process.execPath, ...argv] : [process.execPath, ...argv];
  const launched = launch(`webhist ${mode}`, command!, args, { env: { ...cleanEnv(), ...options.env }, cwd: dir });
  const ready = await launched.waitFor(/ on http:\/\/127\.0\.0\.1:(\d+)\//, 30_000).catch(async (error) => {
    await stop([launched]);
    throw error;
  });
  return target(launched, Number(ready[1]), dir, cgiBin);
}

/** `webhist worker --listen tcp:127.0.0.1:PORT`, the FastCGI application nginx would talk to. */
export async function worker(options: TargetOptions = {}): Promise<Target> {
  const { dir, cgiBin } = await scratch(options.scripts ?? {}, options.files ?? {});
  const port = await freePort();
  const launched = launch('webhist worker', process.execPath, [webhistBin, 'worker', '--listen', `tcp:127.0.0.1:${port}`, '--cgi-bin', cgiBin], {
    env: { ...cleanEnv(), ...options.env },
    cwd: dir,
  });
  await waitForListener({ host: '127.0.0.1', port }, launched, 30_000).catch(async (error) => {
    await stop([launched]);
    throw error;
  });
  return target(launched, port, dir, cgiBin);
}

function target(launched: Launched, port: number, dir: string, cgiBin: string): Target {
  return {
    launched,
    pid: launched.pid,
    port,
    dir,
    cgiBin,
    async stop() {
      await stop([launched], 2000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resident memory of the process and everything below it, in bytes. */
export function treeRss(pid: number): number {
  return treeRssBytes(treeOf(readProcessTable(), [pid]));
}

/** Open descriptors of one process. */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** The status code of a GET over a fresh connection, or 0 when no answer came within `ms`. */
export async function statusOf(port: number, path: string, ms = 10_000): Promise<number> {
  return rawRequest(port, get(path), ms).then(
    (r) => r.status || 0,
    () => 0,
  );
}

/**
 * Asks for `path` every quarter second until the answer is `status`; fails after `ms`, naming the
 * last answer (a bound on a wait, never a timing assertion).
 */
export async function untilAnswered(port: number, path: string, status: number, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (let last = await statusOf(port, path, 2000); last !== status; last = await statusOf(port, path, 2000)) {
    if (Date.now() > deadline) throw new Error(`${what}: no ${status} for ${path} within ${ms} ms (last answer: ${last || 'none'})`);
    await sleep(250);
  }
}

/** A connected socket that swallows errors (the server may reset it: that is an outcome, not a crash here). */
export function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  }).then((socket) => {
    (socket as Socket).on('error', () => {});
    return socket as Socket;
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
