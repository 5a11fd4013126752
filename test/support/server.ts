/**
 * A webhist server for tests: started in-process on 127.0.0.1, port 0, over a temporary
 * cgi-bin holding the shipped scripts plus any a test adds, with both logs captured.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Mode } from '../../src/mode.ts';
import { shippedCgiBin, shippedDocroot } from '../../src/package-root.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/http-front.ts';
import { createLogger, type Logger } from '../../src/server/log.ts';
import { collectLines } from './lines.ts';

export interface TestServer extends RunningServer {
  dir: string;
  cgiBin: string;
  /** Every error-log line so far. */
  errors(): string[];
  /** Every access-log line so far. */
  access(): string[];
  /** A mark in the error log: how many lines it has now. */
  mark(): number;
  /** The error-log lines written since `mark`. */
  errorsSince(mark: number): string[];
  /** Resolves once an error-log line written since `mark` matches, or rejects after `ms`. */
  waitForError(pattern: RegExp, mark: number, ms?: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

/** A mode, or how to make one for this server's cgi-bin and error log. */
export type ModeFactory = Mode | ((context: { cgiBin: string; logger: Logger }) => Mode | Promise<Mode>);

export async function startTestServer(
  modeOrFactory: ModeFactory,
  scripts: Record<string, string> = {},
  options: Partial<ServerOptions> = {},
): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'webhist-test-'));
  const cgiBin = join(dir, 'cgi-bin');
  await cp(shippedCgiBin, cgiBin, { recursive: true });
  // The shipped docroot, and a directory in it (for the slash-adding 301).
  const docroot = join(dir, 'docroot');
  await cp(shippedDocroot, docroot, { recursive: true });
  await mkdir(join(docroot, 'sub'));
  await writeFile(join(docroot, 'sub', 'index.html'), '<p>sub</p>\n');
  for (const [name, text] of Object.entries(scripts)) await writeFile(join(cgiBin, name), text.replaceAll('$TMP', dir));
  const errLines = collectLines();
  const accessLines = collectLines();
  const logger = createLogger({ format: 'clf', out: accessLines.stream, err: errLines.stream });
  const mode = typeof modeOrFactory === 'function' ? await modeOrFactory({ cgiBin, logger }) : modeOrFactory;
  const server = await startServer({
    mode,
    host: '127.0.0.1',
    port: 0,
    cgiBin,
    docroot,
    timeoutMs: 10_000,
    idleTimeoutMs: 60_000,
    maxConcurrency: 16,
    maxBody: 10 * 1024 ** 2,
    passAuthorization: false,
    revalidateMs: 1000,
    logger,
    ...options,
  });
  return {
    ...server,
    dir,
    cgiBin,
    errors: () => errLines.lines,
    access: () => accessLines.lines,
    mark: () => errLines.lines.length,
    errorsSince: (mark) => errLines.lines.slice(mark),
    waitForError: (pattern, mark, ms = 5000) => errLines.waitFor(pattern, ms, mark),
    async stop() {
      await server.close(1000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
