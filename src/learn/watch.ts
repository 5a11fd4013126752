/**
 * `watch`: run again whenever a file in the learner's folder changes. File events do not
 * arrive everywhere (network and container file systems, some editors' atomic saves), so a
 * poll of every file's size and mtime runs beside fs.watch, and Enter runs it by hand. A run
 * happens only when what is on disk differs from the last run, and never two at once.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface Watching {
  close(): void;
  /** Runs now (the manual fallback), whether or not anything changed. */
  runNow(): void;
  /** Resolves when no run is in progress. */
  settled(): Promise<void>;
}

export function watchFolder(dir: string, run: () => Promise<void>, pollMs = 1000): Watching {
  let last = '';
  let running = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let current = Promise.resolve();

  const go = async (force: boolean) => {
    if (running) {
      again = true;
      return;
    }
    const now = await signature(dir);
    if (!force && now === last) return;
    last = now;
    running = true;
    let done = () => {};
    current = new Promise((resolve) => (done = resolve));
    try {
      await run();
    } finally {
      // A check may write beside the script (a guestbook's entries): what the run itself left
      // is not a learner's change.
      last = await signature(dir);
      running = false;
      done();
      if (again) {
        again = false;
        void go(false);
      }
    }
  };
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void go(false), 150);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { recursive: true }, soon);
    watcher.on('error', () => watcher?.close());
  } catch {
    // No file events here: the poll below is enough.
  }
  const poll = setInterval(() => void go(false), pollMs);
  void go(true);
  return {
    close() {
      watcher?.close();
      clearInterval(poll);
      clearTimeout(timer);
    },
    runNow: () => void go(true),
    settled: () => current,
  };
}

/** Every file's path, size and mtime: a change in any of them is a change. */
async function signature(dir: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (at: string) => {
    for (const entry of await readdir(at, { withFileTypes: true }).catch(() => [])) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        const info = await stat(path).catch(() => undefined);
        if (info) parts.push(`${path}:${info.size}:${info.mtimeMs}:${info.mode}`);
      }
    }
  };
  await walk(dir);
  return parts.sort().join('\n');
}
