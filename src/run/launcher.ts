/**
 * How CGI mode starts its programs: through the spawn helper (spawn-helper.ts, the mod_cgid
 * way) where it is built, or by forking the server (program.ts, the way NCSA httpd did and
 * Node's spawn() does) where it is not or where asked to. The choice is said at start-up, and a
 * helper that dies is replaced, requests meanwhile starting the Node way: no request waits for it.
 */
import type { CgiRequest, ScriptRun } from '../mode.ts';
import { ProcessGroups, spawnProgram } from './program.ts';
import { startSpawnHelper, type SpawnHelper } from './spawn-helper.ts';

export type SpawnWay = 'helper' | 'node';

export interface ProgramLauncher {
  /** How programs start now, in words for the start-up line and the status page. */
  readonly how: string;
  /** The spawn helper's pid while there is one. */
  readonly helperPid: number | undefined;
  readonly running: number;
  run(request: CgiRequest): ScriptRun;
  close(): Promise<void>;
}

/**
 * `say` gets what a person running the server should know: a fallback, a helper replaced.
 * `binary` is the helper's path (tests point it at one that is not there).
 */
export async function createProgramLauncher(way: SpawnWay, say: (message: string) => void, binary?: string): Promise<ProgramLauncher> {
  const groups = new ProcessGroups();
  let helper: SpawnHelper | undefined;
  let closing = false;
  let how = 'forked from the server (--spawn node)';

  const start = async (): Promise<void> => {
    try {
      helper = await startSpawnHelper(binary);
    } catch (error) {
      // Said in the start-up line (the mode's note) and on the status page.
      how = `forked from the server, as the spawn helper cannot run: ${(error as Error).message}`;
      return;
    }
    how = `started by a spawn helper, pid ${helper.pid}, as Apache's mod_cgid does`;
    const current = helper;
    void current.exited.then(() => {
      if (closing || helper !== current) return;
      helper = undefined;
      say('the spawn helper died: programs are forked from the server until it is replaced');
      setTimeout(() => closing || void start(), 1000).unref();
    });
  };
  if (way === 'helper') await start();

  return {
    get how() {
      return how;
    },
    get helperPid() {
      return helper?.pid;
    },
    get running() {
      return groups.size + (helper?.running ?? 0);
    },
    run: (request) => (helper ? helper.run(request) : spawnProgram(request, groups)),
    async close() {
      closing = true;
      groups.killAll();
      await helper?.close();
    },
  };
}
