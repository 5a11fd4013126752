/**
 * The servers users would pick instead, run side by side with webhist in the same bench:
 * plain node:http (the in-process ceiling), lighttpd mod_cgi and nginx + fcgiwrap (CGI),
 * nginx + php-fpm (FastCGI), nginx + webhist worker (our application behind their front end), and
 * the least a Node front end can do in front of that worker (fastcgi-floor.ts).
 * Each runs from a config generated in a temporary directory: it
 * listens on 127.0.0.1, its sockets, pid files and logs stay in that directory, and it runs in
 * the foreground so the harness owns its processes. A peer not installed is skipped, naming
 * the Debian package that provides it.
 */
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot, shippedCgiBin } from '../../src/package-root.ts';
import { UsageError } from '../../src/ui.ts';
import { freePort, launch, stop, waitForHttp, type Launched } from '../process/launch.ts';
import { findProgram, missing, type Program } from '../process/programs.ts';
import { Unavailable, type Target } from './targets.ts';

export interface Peer extends Target {
  kind: 'peer';
  /** The one script it serves, and at which path. */
  script: string;
  path: string;
}

interface PeerSpec {
  name: string;
  label: string;
  script: string;
  path: string;
  /** The programs it runs, found on PATH (or in sbin) and passed to start() in this order. */
  needs: Program[];
  /** Its own ready line, printing the URL; without one, the harness polls until the script answers. */
  readyLine?: RegExp;
  /** Writes its config into `dir` and starts its processes; `exe` holds the programs found. */
  start(dir: string, port: number, exe: string[]): Promise<Launched[]> | Launched[];
}

// As root (here and in CI containers) the servers must be told to stay root, or their
// workers switch to nobody and cannot reach the sockets in our 0700 temporary directory.
const root = process.getuid?.() === 0;
// Both default to 1000 requests per connection, then close it; autocannon (like many clients)
// has already written its next request and sees ECONNRESET. node:http sets no such limit.
const keepAliveNote = 'every server keeps the same connections for the whole run, as node:http does';
const webhistBin = join(packageRoot, 'bin/webhist.js');
const nodeHello = fileURLToPath(new URL(`./node-hello${extname(import.meta.url)}`, import.meta.url));
const fastcgiFloor = fileURLToPath(new URL(`./fastcgi-floor${extname(import.meta.url)}`, import.meta.url));

const specs: PeerSpec[] = [
  {
    name: 'node-http',
    label: 'node:http',
    script: 'hello',
    path: '/',
    needs: [],
    readyLine: /on (http:\/\/127\.0\.0\.1:\d+\/)/,
    start: () => [launch('node:http hello', process.execPath, [nodeHello])],
  },
  {
    name: 'lighttpd-cgi',
    label: 'lighttpd mod_cgi',
    script: 'hello.sh',
    path: '/cgi-bin/hello.sh',
    needs: ['lighttpd'],
    async start(dir, port, [lighttpd]) {
      await writeFile(
        join(dir, 'lighttpd.conf'),
        [
          `server.document-root = "${dir}"`,
          `server.bind = "127.0.0.1"`,
          `server.port = ${port}`,
          `server.errorlog = "${dir}/lighttpd-error.log"`,
          `server.modules = ("mod_alias", "mod_cgi")`,
          `alias.url = ("/cgi-bin/" => "${dir}/cgi-bin/")`,
          `cgi.assign = (".sh" => "/bin/sh")`,
          `# ${keepAliveNote}`,
          `server.max-keep-alive-requests = 1000000`,
          '',
        ].join('\n'),
      );
      return [launch('lighttpd', lighttpd!, ['-D', '-f', join(dir, 'lighttpd.conf')])];
    },
  },
  {
    name: 'nginx-fcgiwrap',
    label: 'nginx + fcgiwrap',
    script: 'hello.sh',
    path: '/cgi-bin/hello.sh',
    needs: ['nginx', 'fcgiwrap'],
    async start(dir, port, [nginx, fcgiwrap]) {
      await writeNginxConf(dir, port, 'fcgiwrap.sock');
      // Four preforked wrappers, like php-fpm's static pool of four below; each forks per request.
      const wrapper = launch('fcgiwrap', fcgiwrap!, ['-c', '4', '-s', `unix:${dir}/fcgiwrap.sock`]);
      return [wrapper, startNginx(nginx!, dir)];
    },
  },
  {
    name: 'nginx-php-fpm',
    label: 'nginx + php-fpm',
    script: 'hello.php',
    path: '/cgi-bin/hello.php',
    needs: ['nginx', 'php-fpm'],
    async start(dir, port, [nginx, phpFpm]) {
      await writeNginxConf(dir, port, 'php-fpm.sock');
      await writeFile(
        join(dir, 'php-fpm.conf'),
        [
          '[global]',
          `pid = ${dir}/php-fpm.pid`,
          `error_log = ${dir}/php-fpm.log`,
          'daemonize = no',
          '[www]',
          `listen = ${dir}/php-fpm.sock`,
          'pm = static',
          'pm.max_children = 4',
          '',
        ].join('\n'),
      );
      const fpm = launch('php-fpm', phpFpm!, ['--nodaemonize', ...(root ? ['--allow-to-run-as-root'] : []), '--fpm-config', join(dir, 'php-fpm.conf')]);
      return [fpm, startNginx(nginx!, dir)];
    },
  },
  {
    // Our FastCGI application behind nginx, as php-fpm is above: the same front end for both, so
    // the pair separates what the worker costs from what webhist's own HTTP front costs. One
    // process: a Node worker serves its requests concurrently from one event loop.
    name: 'nginx-webhist-worker',
    label: 'nginx + webhist worker',
    script: 'hello.js',
    path: '/cgi-bin/hello.js',
    needs: ['nginx'],
    async start(dir, port, [nginx]) {
      await writeNginxConf(dir, port, 'worker.sock');
      const worker = launch('webhist worker', process.execPath, [
        webhistBin,
        'worker',
        '--listen',
        `unix:${dir}/worker.sock`,
        '--cgi-bin',
        join(dir, 'cgi-bin'),
      ]);
      return [worker, startNginx(nginx!, dir)];
    },
  },
  {
    // The same worker behind the least a Node front end can do (fastcgi-floor.ts): beside nginx +
    // webhist worker it shows what Node's HTTP costs against nginx's, and beside webhist's own
    // fastcgi mode what the gateway costs; beside php-fpm, what no Node front could undercut.
    // The worker multiplexes, as a webhist pool's workers do, so the floor is of the same design.
    name: 'node-fastcgi-floor',
    label: 'bare Node front + webhist worker',
    script: 'hello.js',
    path: '/cgi-bin/hello.js',
    needs: [],
    readyLine: /on (http:\/\/127\.0\.0\.1:\d+\/)/,
    start(dir) {
      const socket = `unix:${dir}/worker.sock`;
      return [
        launch('fastcgi floor', process.execPath, [fastcgiFloor, socket, join(dir, 'cgi-bin')]),
        launch('webhist worker', process.execPath, [webhistBin, 'worker', '--listen', socket, '--multiplex', '--cgi-bin', join(dir, 'cgi-bin')]),
      ];
    },
  },
];

/** Every peer as a target; `missing` says which are not installed and what to install. */
/** The peers installed here, and why the others are not; `only` names the ones wanted (all by default). */
export function peers(only?: string[]): { available: Peer[]; missing: { name: string; label: string; reason: string }[] } {
  const available: Peer[] = [];
  const unavailable: { name: string; label: string; reason: string }[] = [];
  const unknown = only?.filter((name) => !specs.some((spec) => spec.name === name)) ?? [];
  if (unknown.length) throw new UsageError(`--peers: no peer named ${unknown.join(', ')}; the peers are ${specs.map((spec) => spec.name).join(', ')}`);
  for (const spec of specs) {
    if (only && !only.includes(spec.name)) continue;
    const absent = missing(...spec.needs);
    if (absent) unavailable.push({ name: spec.name, label: spec.label, reason: absent });
    else
      available.push(
        peerTarget(
          spec,
          spec.needs.map((program) => findProgram(program)!),
        ),
      );
  }
  return { available, missing: unavailable };
}

function peerTarget(spec: PeerSpec, exe: string[]): Peer {
  return {
    kind: 'peer',
    name: spec.name,
    label: spec.label,
    script: spec.script,
    path: spec.path,
    async start() {
      const dir = await mkdtemp(join(tmpdir(), `webhist-bench-${spec.name}-`));
      await mkdir(join(dir, 'cgi-bin'));
      for (const script of ['hello.sh', 'hello.php', 'hello.js']) {
        await copyFile(join(shippedCgiBin, script), join(dir, 'cgi-bin', script));
        await chmod(join(dir, 'cgi-bin', script), 0o755); // fcgiwrap execs the file itself
      }
      const port = await freePort();
      const launched = await spec.start(dir, port, exe);
      const stopAndClean = async () => {
        const report = await stop(launched);
        await rm(dir, { recursive: true, force: true });
        return report;
      };
      try {
        const ready = spec.readyLine ? await launched[0]!.waitFor(spec.readyLine) : undefined;
        const baseUrl = ready?.[1] ?? `http://127.0.0.1:${port}/`;
        await waitForHttp(launched, new URL(spec.path, baseUrl).href);
        return { baseUrl, launched, stop: stopAndClean };
      } catch (error) {
        await stopAndClean();
        throw new Unavailable(`${spec.label} did not start: ${(error as Error).message}`);
      }
    },
  };
}

async function writeNginxConf(dir: string, port: number, socket: string): Promise<void> {
  await mkdir(join(dir, 'temp'));
  const temp = (name: string) => `${name}_temp_path ${dir}/temp/${name};`;
  const conf = `# generated by webhist bench
daemon off;
master_process on;
worker_processes auto;
${root ? 'user root;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;  # webhist is benchmarked with --quiet: neither side writes an access log
  # ${keepAliveNote}
  keepalive_requests 1000000;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  server {
    listen 127.0.0.1:${port};
    location /cgi-bin/ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME ${dir}$fastcgi_script_name;
      fastcgi_pass unix:${dir}/${socket};
    }
  }
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
}

function startNginx(nginx: string, dir: string): Launched {
  // -e: the error log before the config is read would otherwise go to /var/log/nginx.
  return launch('nginx', nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'nginx-error.log')]);
}
