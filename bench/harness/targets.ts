/**
 * What a benchmark points load at: a target starts one server (one or more processes), says
 * where it answers, and which processes are its own. webhist's modes are targets by name, so a
 * mode that lands in `webhist serve --mode X` later is benchmarked without changes here.
 */
import { join } from 'node:path';
import { packageRoot } from '../../src/package-root.ts';
import { launch, stop, type Launched, type StopReport } from '../process/launch.ts';

export type TargetKind = 'mode' | 'static' | 'peer';

export interface Target {
  kind: TargetKind;
  /** Its name in options and JSON: cgi, fastcgi, embedded, static, lighttpd-cgi, ... */
  name: string;
  /** Its name for people: "webhist cgi", "lighttpd mod_cgi". */
  label: string;
  start(): Promise<Running>;
}

interface Running {
  /** http://127.0.0.1:PORT/ */
  baseUrl: string;
  /** Its root processes: the tree under them is what CPU and memory are measured for. */
  launched: Launched[];
  /** Stops every process and removes any files the target made. */
  stop(): Promise<StopReport>;
}

/** A target that cannot run here (not built yet, not installed): skipped with this reason. */
export class Unavailable extends Error {
  override name = 'Unavailable';
}

const bin = join(packageRoot, 'bin/webhist.js');
const readyLine = /on (http:\/\/127\.0\.0\.1:\d+\/)/;

/** Names the bench knows beyond the modes: CGI mode forking the server instead of using its spawn helper. */
const variants: Record<string, { mode: string; flags: string[]; label: string }> = {
  'cgi-fork': { mode: 'cgi', flags: ['--spawn', 'node'], label: 'webhist cgi, forked from Node' },
};

/**
 * `webhist serve --mode NAME` as its own process; `static` is cgi mode serving a docroot of sized
 * files. With `accessLog` it writes its access log into the harness's pipe, buffered as nginx's
 * buffer=64k flush=1s (what a server in production pays), rather than running --quiet.
 */
export function webhistTarget(name: string, docroot?: string, { accessLog = false } = {}): Target {
  const kind: TargetKind = docroot ? 'static' : 'mode';
  const { mode, flags, label } = variants[name] ?? { mode: name, flags: [], label: `webhist ${name}` };
  return {
    kind,
    name: docroot ? 'static' : name,
    label: docroot ? 'webhist static' : label,
    async start() {
      const log = accessLog ? ['--log-buffer', '64k'] : ['--quiet'];
      const args = [bin, 'serve', '--mode', mode, ...flags, '--port', '0', ...log, ...(docroot ? ['--docroot', docroot] : [])];
      const server = launch(`webhist serve --mode ${mode}`, process.execPath, args, { cwd: packageRoot });
      const ready = await server.waitFor(readyLine).catch(async (error: Error) => {
        await stop([server]);
        if (/--mode \S+ is not built yet/.test(server.output())) throw new Unavailable(`\`webhist serve --mode ${mode}\` is not built yet`);
        throw error;
      });
      return { baseUrl: ready[1]!, launched: [server], stop: () => stop([server]) };
    },
  };
}
