/**
 * Embedded mode (mod_perl, 1996; mod_php, 1997): the script runs inside the server process,
 * called by the kit's handler runner (src/run/handler.ts), which says what that costs: state
 * that persists, re-imports that leak, handlers that cannot be killed, a watchdog for a blocked
 * event loop. With --processes a supervisor replaces a stuck process (./cluster.ts).
 *
 * Plain CGI programs are refused: there is nothing to import. (Apache::Registry could compile any
 * Perl CGI script, but not a shell script or a C binary either.) Nor is there a working directory
 * per script, as CGI gives (RFC 3875 §7.2): the process has one, shared by every request.
 */
import cluster from 'node:cluster';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mode } from '../../src/mode.ts';
import { containFaults, createHandlerRunner, type HandlerRunnerOptions } from '../../src/run/handler.ts';
import { describeScript, type Script } from '../../src/script/describe.ts';
import type { Logger } from '../../src/server/log.ts';
import { reportToSupervisor } from './cluster.ts';

export type EmbeddedOptions = HandlerRunnerOptions;

export function createEmbeddedMode(options: EmbeddedOptions): Mode {
  const handlers = createHandlerRunner(options);
  const supervisor = cluster.isWorker ? reportToSupervisor(handlers.status) : undefined;
  // A handler's stray throw fails its request, not the server. A fault no script can be named
  // for: under --processes the supervisor replaces the process; a lone server cannot be
  // replaced, so it serves on.
  containFaults(options.logger, supervisor ? 'exit' : 'serve-on');
  let running = 0;
  /**
   * Under --processes: an idle process about to run a script tells the supervisor at once. If the
   * script blocks the event loop, no heartbeat will, and the pool would go on showing it idle.
   */
  const runAndTell: Mode['run'] = (request) => {
    if (running === 0) {
      const now = handlers.status();
      supervisor?.beat({ ...now, state: 'busy', scripts: [...now.scripts, request.script.name] });
    }
    running++;
    const run = handlers.run(request);
    void run.finished.finally(() => running--);
    return run;
  };
  return {
    name: 'embedded',
    refuses,
    run: supervisor ? runAndTell : handlers.run,
    // Under --processes every run goes through runAndTell, so a blocking script is seen as busy.
    tryWhole: supervisor ? undefined : handlers.tryWhole,
    socket: handlers.socket,
    status: () => ({ mode: 'embedded', processes: [handlers.status(), ...(supervisor?.peers() ?? [])] }),
    async close() {
      supervisor?.stop();
      await handlers.close();
    },
  };
}

/** Why embedded mode cannot run a script, if it cannot. */
function refuses(script: Script): string | undefined {
  if (script.kind === 'handler') return undefined;
  return `embedded mode cannot run ${script.name}: it is a plain CGI program (no \`export default\` handler), and only a handler can run inside the server; try --mode cgi or fastcgi`;
}

/** Says at start-up which scripts in cgi-bin this mode will refuse, rather than at the first 500. */
export async function logRefusedScripts(cgiBin: string, logger: Logger): Promise<void> {
  const refused: string[] = [];
  for (const entry of await readdir(cgiBin, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.')) continue;
    // What no mode can run (a C source file, say) is not this mode's to mention.
    const script = await describeScript(join(cgiBin, entry.name), `/cgi-bin/${entry.name}`).catch(() => undefined);
    if (script && refuses(script)) refused.push(entry.name);
  }
  if (refused.length === 0) return;
  refused.sort();
  logger.error('info', 'embedded', `cannot run these plain CGI programs in cgi-bin (they get a 500; try --mode cgi): ${refused.join(', ')}`);
}
