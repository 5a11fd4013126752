/**
 * CGI mode (NCSA httpd, 1993; RFC 3875): one process per request, every script in a process
 * group of its own, started by the kit's program launcher (src/run/launcher.ts): through the
 * small spawn helper where it is built (Apache's mod_cgid), or by forking the server. A handler
 * script runs through its shim (src/script/cgi-shim.ts), so its module state starts fresh each time.
 */
import type { Mode } from '../../src/mode.ts';
import { createProgramLauncher, type SpawnWay } from '../../src/run/launcher.ts';

export interface CgiModeOptions {
  /** `helper` (the default) where it is built, else `node`. */
  spawn?: SpawnWay;
  /** Where the mode says what a person running it should know (a fallback, a replaced helper). */
  say?: (message: string) => void;
}

export async function createCgiMode(options: CgiModeOptions = {}): Promise<Mode> {
  const launcher = await createProgramLauncher(options.spawn ?? 'helper', options.say ?? (() => {}));
  return {
    name: 'cgi',
    get note() {
      return `programs ${launcher.how}`;
    },
    run: (request) => launcher.run(request),
    status: () => ({ mode: 'cgi', running: launcher.running, programs: launcher.how, spawnHelper: launcher.helperPid ?? null }),
    close: () => launcher.close(),
  };
}
