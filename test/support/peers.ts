/**
 * Software nobody here wrote, for the interop tests: nginx, spawn-fcgi, fcgiwrap, php-fpm,
 * libfcgi's cgi-fcgi and wrk, each started from a config generated in a temporary directory
 * and stopped afterwards with everything it started. A tool that is not installed is a skip
 * that says which Debian package to install, never a failure.
 *
 * Every peer runs in a process group of its own and is stopped like Ctrl-C stops a terminal's
 * foreground job: a signal to the whole group (fcgiwrap's parent, for one, leaves its children
 * running when only it is told to go). Then nothing it started may be left: stop() fails
 * loudly, after SIGKILL, if anything was.
 */
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launch, stop, waitForListener, type Launched } from '../../bench/process/launch.ts';
import { findProgram } from '../../bench/process/programs.ts';
import { parseWrk, type WrkResult } from '../../bench/harness/wrk.ts';
import { packageRoot } from '../../src/package-root.ts';
import { isRunning } from '../../src/proc.ts';
import { eventually } from './http.ts';

export { missing } from '../../bench/process/programs.ts';
export { descendants, isRunning } from '../../src/proc.ts';

/** The Node running the tests (the project's pinned Node 24), and the built bin. */
export const node = process.execPath;
export const webhistBin = join(packageRoot, 'bin/webhist.js');
/** What peers get as their whole environment: nothing of the test runner's leaks in. */
const peerEnv = { PATH: '/usr/local/bin:/usr/bin:/bin' };

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** A program the test's describe() has already checked with missing(). */
function program(name: Parameters<typeof findProgram>[0]): string {
  const file = findProgram(name);
  if (!file) throw new Error(`${name} is not installed: the test should have been skipped with missing('${name}')`);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Processes: bench/process/launch.ts starts and stops them; here every peer a test starts is
// remembered, so after() can stop what a failed test left running.

export interface Peer extends Launched {
  /** Stops it and everything it started; throws if any of that needed SIGKILL. */
  stop(): Promise<void>;
}

const started = new Set<{ stop(): Promise<void> }>();

/** Stops every peer still running, newest first; for after(). Throws if any left processes. */
export async function stopAll(): Promise<void> {
  const failures: unknown[] = [];
  for (const peer of [...started].reverse()) await peer.stop().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
}

export function startPeer(name: string, command: string, args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Peer {
  const launched = launch(name, command, args, { env: options.env ?? peerEnv, cwd: options.cwd });
  const peer: Peer = {
    ...launched,
    async stop() {
      started.delete(peer);
      const report = await stop([launched]);
      const forced = report.killed + report.leftover.length;
      if (forced > 0)
        throw new Error(`${name} left processes behind after SIGTERM (${report.killed} killed, still alive: ${report.leftover.join(', ') || 'none'})`);
    },
  };
  started.add(peer);
  return peer;
}

/** A temporary directory, removed by the returned function. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'webhist-interop-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------
// The peers

/** `webhist worker --listen unix:DIR/NAME`, the built bin on the pinned Node. */
export async function startWebhistWorker(dir: string, args: string[] = [], name = 'worker.sock'): Promise<{ peer: Peer; socket: string }> {
  const socket = join(dir, name);
  const peer = startPeer('webhist worker', node, [webhistBin, 'worker', '--listen', `unix:${socket}`, ...args]);
  await peer.waitFor(/serving FastCGI on/);
  return { peer, socket };
}

/** spawn-fcgi -n: it binds the socket, then execs the application with it as fd 0. */
export async function spawnFcgi(socket: string, command: string[]): Promise<Peer> {
  const peer = startPeer('spawn-fcgi', program('spawn-fcgi'), ['-s', socket, '-n', '--', ...command]);
  await waitForListener({ path: socket }, peer);
  return peer;
}

/** spawn-fcgi -F N: it forks N daemons sharing one socket, writes their pids, and exits. */
export async function spawnFcgiChildren(dir: string, socket: string, children: number, command: string[]): Promise<number[]> {
  const pidFile = join(dir, 'spawn-fcgi.pids');
  const result = await execa(program('spawn-fcgi'), ['-s', socket, '-F', String(children), '-P', pidFile, '--', ...command], {
    env: peerEnv,
    extendEnv: false,
    timeout: 10_000,
    reject: false,
  });
  const pids = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').split(/\s+/).filter(Boolean).map(Number) : [];
  // Daemons, no longer our children: each is told by pid, and must be gone within the bound.
  const daemons = {
    async stop() {
      started.delete(daemons);
      for (const pid of pids) kill(pid, 'SIGTERM');
      await eventually(() => !pids.some(isRunning), 5000, 'spawn-fcgi children to exit').catch((error: unknown) => {
        for (const pid of pids) kill(pid, 'SIGKILL');
        throw error;
      });
    },
  };
  started.add(daemons);
  if (result.exitCode !== 0) throw new Error(`spawn-fcgi failed (${result.exitCode}): ${result.stderr}`);
  return pids;
}

/** fcgiwrap on its own socket, preforking `children` processes. */
export async function startFcgiwrap(socket: string, children = 2): Promise<Peer> {
  const peer = startPeer('fcgiwrap', program('fcgiwrap'), ['-s', `unix:${socket}`, '-c', String(children)]);
  await waitForListener({ path: socket }, peer);
  return peer;
}

/** php-fpm in the foreground with a pool of two static children on DIR/php-fpm.sock. */
export async function startPhpFpm(dir: string): Promise<{ peer: Peer; socket: string }> {
  const socket = join(dir, 'php-fpm.sock');
  const conf = join(dir, 'php-fpm.conf');
  await writeFile(
    conf,
    [
      '[global]',
      `pid = ${join(dir, 'php-fpm.pid')}`,
      `error_log = ${join(dir, 'php-fpm.log')}`,
      'daemonize = no',
      '[interop]',
      `listen = ${socket}`,
      'pm = static',
      'pm.max_children = 2',
      'clear_env = yes',
      'catch_workers_output = yes',
      '',
    ].join('\n'),
  );
  // -R: allowed to run as root (CI containers are root); harmless for anyone else.
  const peer = startPeer('php-fpm', program('php-fpm'), ['-R', '-F', '-y', conf, '-p', dir]);
  await waitForListener({ path: socket }, peer);
  return { peer, socket };
}

export interface NginxServer {
  /** fastcgi_pass target: unix:PATH, or the name of an upstream block. */
  pass: string;
  /** fastcgi_keep_conn on, through an upstream block with keepalive connections. */
  keepConn: boolean;
}

/** The params nginx sends, written out rather than included, so the test knows them exactly. */
export const nginxParams: Record<string, string> = {
  GATEWAY_INTERFACE: 'CGI/1.1',
  SERVER_SOFTWARE: 'nginx',
  REQUEST_METHOD: '$request_method',
  QUERY_STRING: '$query_string',
  CONTENT_TYPE: '$content_type',
  CONTENT_LENGTH: '$content_length',
  SCRIPT_NAME: '$fastcgi_script_name',
  SCRIPT_FILENAME: '$document_root$fastcgi_script_name',
  REQUEST_URI: '$request_uri',
  SERVER_PROTOCOL: '$server_protocol',
  SERVER_ADDR: '$server_addr',
  SERVER_PORT: '$server_port',
  SERVER_NAME: '$server_name',
  REMOTE_ADDR: '$remote_addr',
  REMOTE_PORT: '$remote_port',
};

/**
 * nginx in the foreground, one process (master_process off), every path it writes inside
 * `dir`, one HTTP port per server; `root` is the directory holding cgi-bin/.
 */
export async function startNginx(dir: string, root: string, servers: NginxServer[]): Promise<{ peer: Peer; ports: number[]; errorLog: () => string }> {
  const prefix = join(dir, 'nginx');
  await mkdir(prefix, { recursive: true });
  const { stderr: built } = await execa(program('nginx'), ['-V'], { env: peerEnv, extendEnv: false });
  // Every temp path compiled in must be writable, and naming one compiled out is an error.
  const temps = ['client_body', 'fastcgi', 'proxy', 'scgi', 'uwsgi'].filter((m) => m === 'client_body' || !built.includes(`--without-http_${m}_module`));
  const ports = await Promise.all(servers.map(() => freePort()));
  const params = Object.entries(nginxParams)
    .map(([name, value]) => `      fastcgi_param ${name} ${value};`)
    .join('\n');
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 1024; }
http {
  access_log ${prefix}/access.log;
  default_type text/plain;
${temps.map((m) => `  ${m}_temp_path ${prefix}/${m}_temp;`).join('\n')}
${servers.map((s, i) => (s.keepConn ? `  upstream keep${i} { server ${s.pass}; keepalive 8; }` : '')).join('\n')}
${servers
  .map(
    (s, i) => `  server {
    listen 127.0.0.1:${ports[i]};
    root ${root};
    location /cgi-bin/ {
      fastcgi_pass ${s.keepConn ? `keep${i}` : s.pass};
      ${s.keepConn ? 'fastcgi_keep_conn on;' : ''}
${params}
    }
  }`,
  )
  .join('\n')}
}
`;
  const file = join(prefix, 'nginx.conf');
  await writeFile(file, conf);
  const peer = startPeer('nginx', program('nginx'), ['-p', `${prefix}/`, '-c', file]);
  for (const port of ports) await waitForListener({ host: '127.0.0.1', port }, peer);
  return { peer, ports, errorLog: () => readFileSync(join(prefix, 'error.log'), 'utf8') };
}

// ---------------------------------------------------------------------------------------------
// Clients

export interface Exit {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to its end (bounded), feeding it `input`, with exactly the environment `env`. */
async function run(command: string, args: string[], env: Record<string, string>, input?: Buffer, ms = 20_000): Promise<Exit> {
  const result = await execa(command, args, {
    env,
    extendEnv: false,
    input: input ?? Buffer.alloc(0),
    timeout: ms,
    encoding: 'buffer',
    stripFinalNewline: false,
    reject: false,
  });
  const stderr = Buffer.from(result.stderr).toString();
  if (result.timedOut) throw new Error(`${command} did not finish within ${ms}ms; stderr: ${stderr}`);
  if (result.exitCode === undefined && !result.signal) throw new Error(result.shortMessage); // it never started
  return { code: result.exitCode ?? null, stdout: Buffer.from(result.stdout), stderr };
}

/**
 * libfcgi's cgi-fcgi as a one-shot FastCGI client: its whole environment becomes the PARAMS,
 * its stdin (CONTENT_LENGTH bytes of it) the STDIN stream. -connect takes a plain path for a
 * unix socket (a colon would make it host:port).
 */
export function cgiFcgi(socket: string, params: Record<string, string>, body?: Buffer): Promise<Exit> {
  return run(program('cgi-fcgi'), ['-bind', '-connect', socket], params, body);
}

/** A CGI response split at the blank line: the header block as text, the body as bytes. */
export function splitCgi(output: Buffer): { head: string; body: Buffer } {
  const end = output.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no header block in ${JSON.stringify(output.toString().slice(0, 200))}`);
  return { head: output.subarray(0, end).toString('latin1'), body: output.subarray(end + 4) };
}

/** printenv.js's output (NAME="value" lines) back into an object. */
export function parsePrintenv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n').filter(Boolean)) {
    const match = /^([^=]+)="(.*)"$/.exec(line);
    if (!match) throw new Error(`not a printenv line: ${line}`);
    env[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return env;
}

/** wrk's counts (never its timings): requests, socket errors and non-2xx/3xx responses, read as the bench reads them. */
export async function wrk(url: string, args = ['-t1', '-c8', '-d2s']): Promise<WrkResult & { output: string }> {
  const { exitCode, stdout, stderr } = await execa(program('wrk'), [...args, url], { env: peerEnv, extendEnv: false, timeout: 60_000, reject: false });
  if (exitCode !== 0) throw new Error(`wrk exited ${exitCode}: ${stderr}${stdout}`);
  return { ...parseWrk(stdout), output: stdout };
}
