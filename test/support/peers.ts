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
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type NetConnectOpts } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { packageRoot } from '../../src/package-root.ts';
import { childrenOf, eventually } from './http.ts';

/** The Node running the tests (the project's pinned Node 24), and the built bin. */
export const node = process.execPath;
export const webhistBin = join(packageRoot, 'bin/webhist.js');
/** What peers get as their whole environment: nothing of the test runner's leaks in. */
export const peerEnv = { PATH: '/usr/local/bin:/usr/bin:/bin' };

// ---------------------------------------------------------------------------------------------
// Finding the tools

const searchPath = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];

export function which(name: string): string | undefined {
  return searchPath.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

/** php-fpm has the PHP version in its name on Debian (php-fpm8.2). */
export function phpFpm(): string | undefined {
  const versioned = ['/usr/sbin', '/usr/local/sbin'].flatMap((dir) =>
    existsSync(dir) ? readdirSync(dir).filter((f) => /^php-fpm[\d.]*$/.test(f)).sort().map((f) => join(dir, f)) : [],
  );
  return which('php-fpm') ?? versioned.at(-1);
}

const packages: Record<string, string> = {
  nginx: 'nginx-light',
  'spawn-fcgi': 'spawn-fcgi',
  'cgi-fcgi': 'libfcgi-bin',
  fcgiwrap: 'fcgiwrap',
  'php-cgi': 'php-cgi',
  'php-fpm': 'php-fpm',
  wrk: 'wrk',
};

/** A skip reason naming what to install, or false when every tool is here. */
export function missing(...tools: string[]): string | false {
  const absent = tools.filter((tool) => !(tool === 'php-fpm' ? phpFpm() : which(tool)));
  if (absent.length === 0) return false;
  return `${absent.join(', ')} not installed: apt-get install ${absent.map((t) => packages[t] ?? t).join(' ')}`;
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface Peer {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr together. */
  output(): string;
  /** Resolves once a line of output matches; rejects if the peer exits first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const started = new Set<{ stop(): Promise<void> }>();

/** Stops every peer still running, newest first; for after(). Throws if any left processes. */
export async function stopAll(): Promise<void> {
  const failures: unknown[] = [];
  for (const peer of [...started].reverse()) await peer.stop().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
}

export function startPeer(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Peer {
  const child = spawn(command, args, { env: options.env ?? peerEnv, cwd: options.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString();
    for (const wake of listeners) wake();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  child.on('error', (error) => append(Buffer.from(`cannot start ${command}: ${error.message}\n`)));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const wake of listeners) wake();
  });

  const peer: Peer = {
    name,
    pid: child.pid ?? 0,
    child,
    output: () => text,
    exited,
    waitFor: (pattern, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const line = text.split('\n').find((l) => pattern.test(l));
          if (line === undefined && !gone) return;
          listeners.delete(check);
          clearTimeout(timer);
          if (line !== undefined) resolve(line);
          else reject(new Error(`${name} exited before printing ${pattern}:\n${text}`));
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${name} printed nothing matching ${pattern} within ${ms}ms:\n${text}`));
        }, ms);
        listeners.add(check);
        check();
      }),
    async stop() {
      started.delete(peer);
      if (!peer.pid) return; // never started: and kill(-0) would signal our own group
      const tree = [peer.pid, ...descendants(peer.pid)];
      signalGroup(peer.pid, 'SIGTERM');
      await ensureGone(name, tree, () => signalGroup(peer.pid, 'SIGKILL'));
      // 'close' waits for its pipes too, which a process that escaped the tree could hold.
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    },
  };
  started.add(peer);
  return peer;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Waits (bounded) for every pid to end; past the bound, SIGKILLs them and throws. */
async function ensureGone(name: string, pids: number[], kill: () => void): Promise<void> {
  try {
    await eventually(() => pids.every((pid) => !isRunning(pid)), 5000, `${name} and everything it started to exit`);
  } catch {
    const left = pids.filter(isRunning);
    const named = left.map(label);
    kill();
    for (const pid of left) signal(pid, 'SIGKILL');
    throw new Error(`${name} left processes behind after SIGTERM: ${named.join(', ')}`);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** Alive and not a zombie (an orphan's zombie lingers where pid 1 does not reap). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function label(pid: number): string {
  try {
    return `${pid} (${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()})`;
  } catch {
    return String(pid);
  }
}

/** Every process below `pid`, children first, read from /proc. */
export function descendants(pid: number): number[] {
  return childrenOf(pid).flatMap((child) => [child, ...descendants(child)]);
}

// ---------------------------------------------------------------------------------------------
// Places and readiness

/** A temporary directory, removed by the returned function. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'webhist-interop-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A port free a moment ago, for a program (nginx) that cannot be told to pick one itself. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something accepts connections at `where`; fails if `peer` exits first. */
export async function waitForListener(where: NetConnectOpts, peer?: Peer, ms = 10_000): Promise<void> {
  const connects = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(where);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  let exited = false;
  void peer?.exited.then(() => (exited = true));
  await eventually(async () => {
    if (exited) throw new Error(`${peer!.name} exited before it listened:\n${peer!.output()}`);
    return connects();
  }, ms, `a listener at ${JSON.stringify(where)}`);
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
  const peer = startPeer('spawn-fcgi', which('spawn-fcgi')!, ['-s', socket, '-n', '--', ...command]);
  await waitForListener({ path: socket }, peer);
  return peer;
}

/** spawn-fcgi -F N: it forks N daemons sharing one socket, writes their pids, and exits. */
export async function spawnFcgiChildren(dir: string, socket: string, children: number, command: string[]): Promise<number[]> {
  const pidFile = join(dir, 'spawn-fcgi.pids');
  const result = spawnSync(which('spawn-fcgi')!, ['-s', socket, '-F', String(children), '-P', pidFile, '--', ...command], {
    env: peerEnv,
    encoding: 'utf8',
    timeout: 10_000,
  });
  const pids = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').split(/\s+/).filter(Boolean).map(Number) : [];
  const stop = async () => {
    started.delete(daemons);
    for (const pid of pids) signal(pid, 'SIGTERM');
    await ensureGone('spawn-fcgi children', pids, () => {});
  };
  const daemons = { stop };
  started.add(daemons);
  if (result.status !== 0) throw new Error(`spawn-fcgi failed (${result.status}): ${result.stderr}`);
  return pids;
}

/** fcgiwrap on its own socket, preforking `children` processes. */
export async function startFcgiwrap(socket: string, children = 2): Promise<Peer> {
  const peer = startPeer('fcgiwrap', which('fcgiwrap')!, ['-s', `unix:${socket}`, '-c', String(children)]);
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
  const peer = startPeer('php-fpm', phpFpm()!, ['-R', '-F', '-y', conf, '-p', dir]);
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
  const built = spawnSync(which('nginx')!, ['-V'], { encoding: 'utf8' }).stderr ?? '';
  // Every temp path compiled in must be writable, and naming one compiled out is an error.
  const temps = ['client_body', 'fastcgi', 'proxy', 'scgi', 'uwsgi'].filter((m) => m === 'client_body' || !built.includes(`--without-http_${m}_module`));
  const ports = await Promise.all(servers.map(() => freePort()));
  const params = Object.entries(nginxParams).map(([name, value]) => `      fastcgi_param ${name} ${value};`).join('\n');
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
  const peer = startPeer('nginx', which('nginx')!, ['-p', `${prefix}/`, '-c', file]);
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
export function run(command: string, args: string[], env: Record<string, string>, input?: Buffer, ms = 20_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not finish within ${ms}ms; stderr: ${err}`));
    }, ms);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? Buffer.alloc(0));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/**
 * libfcgi's cgi-fcgi as a one-shot FastCGI client: its whole environment becomes the PARAMS,
 * its stdin (CONTENT_LENGTH bytes of it) the STDIN stream. -connect takes a plain path for a
 * unix socket (a colon would make it host:port).
 */
export function cgiFcgi(socket: string, params: Record<string, string>, body?: Buffer): Promise<Exit> {
  return run(which('cgi-fcgi')!, ['-bind', '-connect', socket], params, body);
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

export interface WrkResult {
  requests: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  non2xx: number;
  output: string;
}

/** wrk's counts (never its timings): requests, socket errors and non-2xx/3xx responses. */
export async function wrk(url: string, args = ['-t1', '-c8', '-d2s']): Promise<WrkResult> {
  const { code, stdout, stderr } = await run(which('wrk')!, [...args, url], peerEnv, undefined, 60_000);
  const output = stdout.toString();
  if (code !== 0) throw new Error(`wrk exited ${code}: ${stderr}${output}`);
  const requests = /(\d+) requests in /.exec(output);
  if (!requests) throw new Error(`cannot read wrk's output:\n${output}`);
  // wrk prints these two lines only when a count is not zero.
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requests: Number(requests[1]),
    socketErrors: {
      connect: Number(errors?.[1] ?? 0),
      read: Number(errors?.[2] ?? 0),
      write: Number(errors?.[3] ?? 0),
      timeout: Number(errors?.[4] ?? 0),
    },
    non2xx: Number(non2xx?.[1] ?? 0),
    output,
  };
}
