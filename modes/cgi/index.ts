/**
 * CGI mode (NCSA httpd, 1993; RFC 3875): one process per request, every script spawned in a
 * process group of its own by the kit's program runner (src/run/program.ts). A handler script
 * runs through its shim (src/script/cgi-shim.ts), so its module state starts fresh each time.
 */
import type { Mode } from '../../src/mode.ts';
import { ProcessGroups, spawnProgram } from '../../src/run/program.ts';

export function createCgiMode(): Mode {
  const groups = new ProcessGroups();
  return {
    name: 'cgi',
    run: (request) => spawnProgram(request, groups),
    status: () => ({ mode: 'cgi', running: groups.size }),
    async close() {
      groups.killAll();
    },
  };
}
