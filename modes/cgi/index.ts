/**
 * CGI mode (NCSA httpd, 1993; RFC 3875): one process per request, every script in a process
 * group of its own, started by the kit's program launcher (src/run/launcher.ts): through the
 * small spawn helper where it is built (Apache's mod_cgid), or by forking the server. A handler
 * script runs through its shim (src/script/cgi-shim.ts), so its module state starts fresh each time.
 */
import type { Mode } from '../../src/mode.ts';
import { createProgramLauncher, type SpawnWay } from '../../src/run/launcher.ts';
import { ProcessGroups, spawnProgram } from '../../src/run/program.ts';
import { socketCommand } from '../../src/script/describe.ts';

export interface CgiModeOptions {
  /** `helper` (the default) where it is built, else `node`. */
  spawn?: SpawnWay;
  /** Where the mode says what a person running it should know (a fallback, a replaced helper). */
  say?: (message: string) => void;
}

export async function createCgiMode(options: CgiModeOptions = {}): Promise<Mode> {
  const launcher = await createProgramLauncher(options.spawn ?? 'helper', options.say ?? (() => {}));
  // A WebSocket's program is spawned here, not through the spawn helper: that is made for a CGI
  // response (body in, output until exit), and a connection talks both ways for as long as it lasts.
  const sockets = new ProcessGroups();
  return {
    name: 'cgi',
    get note() {
      return `programs ${launcher.how}`;
    },
    run: (request) => launcher.run(request),
    socket: (request) => spawnProgram({ ...request, script: { ...request.script, command: socketCommand(request.script) } }, sockets),
    status: () => ({ mode: 'cgi', running: launcher.running, websockets: sockets.size, programs: launcher.how, spawnHelper: launcher.helperPid ?? null }),
    async close() {
      sockets.killAll();
      await launcher.close();
    },
  };
}
