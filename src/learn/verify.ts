/**
 * `verify`: loads a lesson's checks, looks for the learner's files, then for each mode the
 * lesson names starts `webhist serve --port 0` on the learner's folder and runs every check
 * against it in order, recording what was sent and received. Collect first, print later
 * (report.ts), so the same result is text for a person or JSON for a program.
 */
import { execa } from 'execa';
import { readdirSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { ModeName } from '../mode.ts';
import type { Lesson } from './catalogue.ts';
import { CheckFailure, CheckSkipped, describeDifference, seededRandom, type CheckContext, type Recorded, type SetupContext, type Suite } from './checks.ts';
import { probe } from './fastcgi-probe.ts';
import { loadSuite } from './load-suite.ts';
import { freePort } from '../io/listen.ts';
import { runScript, serve, startProcess, type Started } from './processes.ts';
import { requireFile, WorkspaceError } from './workspace.ts';
import { curlCommand, encodeRequest, exchange, ParseError, parseResponses } from './wire.ts';

export interface CheckResult {
  task: number;
  title: string;
  status: 'pass' | 'fail' | 'skip';
  reason?: string;
  exchanges: Recorded[];
}

interface ModeResult {
  mode: ModeName;
  notes: string[];
  checks: CheckResult[];
  /** The server's error log, for a failure that needs it. */
  errorLog: string[];
}

export interface VerifyResult {
  lesson: number;
  title: string;
  seed: number;
  status: 'pass' | 'fail' | 'error';
  /** Why no check could run (status error). */
  error?: string;
  modes: ModeResult[];
}

export interface VerifyOptions {
  seed?: number;
  /** Only these of the lesson's modes. */
  modes?: ModeName[];
  /** The server's --timeout: a script that hangs becomes a 504 after this long. */
  scriptTimeoutMs?: number;
}

const checkTimeoutMs = 30_000;

export async function verifyLesson(lesson: Lesson, dir: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const seed = options.seed ?? Math.floor(Math.random() * 100_000);
  const result: VerifyResult = { lesson: lesson.number, title: lesson.title, seed, status: 'pass', modes: [] };
  let suite: Suite;
  let files: Record<string, string>;
  try {
    suite = await loadSuite(lesson);
    files = await findFiles(dir, suite);
  } catch (error) {
    if (!(error instanceof WorkspaceError)) throw error;
    return { ...result, status: 'error', error: error.message };
  }
  const modes = lesson.modes.filter((m) => !options.modes || options.modes.includes(m));
  const random = seededRandom(seed);
  for (const mode of modes) {
    result.modes.push(await verifyMode(lesson, suite, mode, dir, files, random, options.scriptTimeoutMs ?? suite.scriptTimeoutMs ?? 5000));
  }
  if (result.modes.some((m) => m.checks.some((c) => c.status === 'fail'))) result.status = 'fail';
  return result;
}

/** The learner's files, each found and runnable, or a WorkspaceError naming the first that is not. */
async function findFiles(dir: string, suite: Suite): Promise<Record<string, string>> {
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new WorkspaceError(`${dir}: no such folder`);
  const found: Record<string, string> = {};
  for (const file of suite.files) {
    let path = file.path;
    if (path.endsWith('.*')) {
      const stem = basename(path).slice(0, -2);
      const names = await readdir(join(dir, dirname(path))).catch(() => [] as string[]);
      // A script, not the data it keeps beside itself (guestbook.txt): known script extensions first.
      const scriptLike = (n: string) => (/\.(py|js|mjs|ts|pl|sh|php|rb|cgi)$/.test(n) || !n.includes('.') ? 0 : 1);
      const name = names.filter((n) => n === stem || n.startsWith(`${stem}.`)).sort((a, b) => scriptLike(a) - scriptLike(b) || a.localeCompare(b))[0];
      if (!name) throw new WorkspaceError(`${dirname(path)}/${stem}: no such file in ${dir} (any extension will do, e.g. ${stem}.py or ${stem}.js)`);
      path = join(dirname(path), name);
    }
    await requireFile(dir, path, file.executable ?? false);
    found[file.path] = path;
  }
  return found;
}

/** A file of lesson `n`'s folder, beside `lesson`'s (lesson 8 compares with lessons 2 and 3's solutions). */
function lessonFile(lesson: Lesson, n: number, path: string): string {
  const root = dirname(lesson.dir);
  const name = readdirSync(root).find((entry) => entry.startsWith(`${String(n).padStart(2, '0')}-`));
  if (!name) throw new Error(`no lesson ${n} beside ${lesson.name}`);
  return join(root, name, path);
}

async function verifyMode(
  lesson: Lesson,
  suite: Suite,
  mode: ModeName,
  dir: string,
  files: Record<string, string>,
  random: () => number,
  scriptTimeoutMs: number,
): Promise<ModeResult> {
  const result: ModeResult = { mode, notes: [], checks: [], errorLog: [] };
  const started: Started[] = [];
  const empty: string[] = [];
  const tempDir = async (prefix = 'peer') => {
    const made = await mkdtemp(join(tmpdir(), `webhist-learn-${prefix}-`));
    empty.push(made);
    return made;
  };
  const setup: SetupContext = {
    mode,
    dir,
    files,
    random,
    start(command, args, options) {
      const process = startProcess(command, args, options);
      started.push(process);
      return process;
    },
    freePort,
    waitForPort,
    lessonFile: (n, path) => lessonFile(lesson, n, path),
    tempDir: () => tempDir(),
    note: (line) => result.notes.push(line),
  };
  let server: Awaited<ReturnType<typeof serve>> | undefined;
  try {
    const extra = (await suite.beforeServe?.(setup)) ?? [];
    const folder = async (name: string) => ((await stat(join(dir, name)).catch(() => undefined))?.isDirectory() ? join(dir, name) : tempDir(name));
    const serveArgs = ['--cgi-bin', await folder('cgi-bin'), '--docroot', await folder('site'), '--timeout', `${scriptTimeoutMs}ms`, '--quiet', ...extra];
    server = await serve(mode, serveArgs);
    started.push(server);
    // A second server on the same folders, for a check that needs other limits (lesson 10's --max-concurrency).
    const serveMore = async (args: string[]) => {
      const more = await serve(mode, [...serveArgs, ...args]);
      started.push(more);
      return { url: more.url, port: more.port };
    };
    for (const check of suite.checks) {
      if (check.modes && !check.modes.includes(mode)) continue;
      result.checks.push(await runCheck(check, setup, server, serveMore, scriptTimeoutMs));
    }
  } catch (error) {
    // A server that would not start, or a beforeServe that failed: one failing entry that says why.
    result.checks.push({ task: 1, title: `start the ${mode} server`, status: 'fail', reason: (error as Error).message, exchanges: [] });
  } finally {
    result.errorLog = server?.stderrLines() ?? [];
    await Promise.all(started.map((p) => p.stop()));
    await Promise.all(empty.map((d) => rm(d, { recursive: true, force: true })));
  }
  return result;
}

async function runCheck(
  check: Suite['checks'][number],
  setup: SetupContext,
  server: { url: string; port: number; stderrLines(): string[] },
  serveMore: CheckContext['serve'],
  scriptTimeoutMs: number,
): Promise<CheckResult> {
  const exchanges: Recorded[] = [];
  const logStart = server.stderrLines().length;
  const errorLog = () => server.stderrLines().slice(logStart);
  const fail = (reason: string): never => {
    throw new CheckFailure(reason);
  };
  const logTail = () => {
    const lines = errorLog();
    // Without the log's own time stamp and level: the reason is what a learner needs.
    const said = lines.slice(-2).map((line) => line.replace(/^\[[^\]]*\] \[[^\]]*\] /, ''));
    return said.length ? `; the error log says: ${said.join(' / ')}` : '';
  };
  const t: CheckContext = {
    ...setup,
    url: server.url,
    port: server.port,
    errorLog,
    record: (entry) => exchanges.push(entry),
    fail,
    serve: serveMore,
    async http(request, options) {
      const port = options?.port ?? server.port;
      const sent = encodeRequest(`127.0.0.1:${port}`, request);
      const ex = await exchange(port, sent, { timeoutMs: options?.timeoutMs ?? scriptTimeoutMs + 5000 });
      exchanges.push({ curl: curlCommand(`http://127.0.0.1:${port}/`, request), sent, received: ex.received, ended: ex.ended, error: ex.error });
      if (ex.error) fail(`no response: ${ex.error}`);
      let response: ReturnType<typeof parseResponses>[number] | undefined;
      try {
        response = parseResponses(ex.received, [request.method ?? 'GET'], ex.ended === 'closed')[0];
      } catch (error) {
        if (error instanceof ParseError) fail(`the response is not valid HTTP: ${error.message}`);
        throw error;
      }
      if (!response)
        fail(
          ex.ended === 'timeout'
            ? `no complete response within ${(options?.timeoutMs ?? scriptTimeoutMs + 5000) / 1000}s`
            : 'the connection closed before a complete response',
        );
      return response!;
    },
    async raw(bytes, options) {
      const ex = await exchange(server.port, bytes, {
        timeoutMs: options.timeoutMs ?? scriptTimeoutMs + 5000,
        gapMs: options.gapMs,
        // No methods: read until the server closes (a response that streams, like server push).
        complete: options.methods.length ? (received) => safeParse(received, options.methods).length === options.methods.length : undefined,
      });
      exchanges.push({ label: options.label, sent: ex.sent, received: ex.received, ended: ex.ended, error: ex.error });
      if (ex.error) fail(`no response: ${ex.error}`);
      try {
        return { exchange: ex, responses: parseResponses(ex.received, options.methods, ex.ended === 'closed') };
      } catch (error) {
        if (error instanceof ParseError) fail(`the response is not valid HTTP: ${error.message}`);
        throw error;
      }
    },
    async runScript(path, args) {
      const file = join(setup.dir, path);
      const ran = await runScript(file, args, scriptTimeoutMs);
      exchanges.push({
        command: ['webhist run', path, ...args.map((a) => (/^[\w./:=%-]+$/.test(a) ? a : `'${a}'`))].join(' '),
        received: 'stdout' in ran ? ran.stdout : undefined,
        error: 'error' in ran ? ran.error : undefined,
      });
      if ('error' in ran) fail(ran.error);
      return (ran as { stdout: Buffer }).stdout;
    },
    status(response, expected, advice) {
      if (response.status === expected) return;
      const why =
        response.status === 502
          ? ` (the server could not read the script's output as a CGI response${logTail()})`
          : response.status === 504
            ? ` (the script did not finish within ${scriptTimeoutMs / 1000}s and was stopped: does it wait for input that never comes, or sleep?)`
            : response.status === 500
              ? ` (the script could not be run${logTail()})`
              : '';
      fail(`expected status ${expected}, got ${response.status} ${response.reason}${why}${advice ? `. ${advice}` : ''}`);
    },
    header(response, name, expected, advice) {
      const values = response.headers[name.toLowerCase()];
      const shown = typeof expected === 'string' ? JSON.stringify(expected) : String(expected);
      if (!values) fail(`no ${name} header field; expected ${shown}${advice ? `. ${advice}` : ''}`);
      const value = values![0]!;
      if (typeof expected === 'string' ? value !== expected : !expected.test(value))
        fail(`${name} is ${JSON.stringify(value)}; expected ${shown}${advice ? `. ${advice}` : ''}`);
      return value;
    },
    noHeader(response, name, advice) {
      const values = response.headers[name.toLowerCase()];
      if (values) fail(`there should be no ${name} header field, but there is one: ${JSON.stringify(values[0])}${advice ? `. ${advice}` : ''}`);
    },
    body(response, expected, advice) {
      if (response.text === expected) return;
      fail(
        `the body should be ${JSON.stringify(expected)} but is ${JSON.stringify(truncate(response.text))}: ${describeDifference(expected, response.text)}${advice ? `. ${advice}` : ''}`,
      );
    },
    contains(text, part, what, advice) {
      if (!text.includes(part)) fail(`${what} should contain ${JSON.stringify(part)} but is ${JSON.stringify(truncate(text))}${advice ? `. ${advice}` : ''}`);
    },
    expect(condition, reason) {
      if (!condition) fail(reason);
    },
    skip(reason) {
      throw new CheckSkipped(reason);
    },
    async fastcgi(port, requests) {
      const result = await probe(port, requests, scriptTimeoutMs + 5000);
      exchanges.push({
        label: `${requests.length} FastCGI request(s) written straight to 127.0.0.1:${port}, one after another on one connection, FCGI_KEEP_CONN set`,
        error: result.problem,
      });
      return result;
    },
    async exec(command, args, options = {}) {
      const ran = await execa(command, args, {
        env: options.env,
        extendEnv: false,
        input: options.input ?? '',
        reject: false,
        timeout: scriptTimeoutMs + 5000,
        encoding: 'buffer',
      });
      const missing = (ran as { code?: string }).code === 'ENOENT';
      const stdout = Buffer.from(ran.stdout ?? []);
      exchanges.push({
        command: [command, ...args].join(' '),
        received: missing ? undefined : stdout,
        error: missing ? `${command}: not installed` : undefined,
      });
      return { stdout, stderr: Buffer.from(ran.stderr ?? []).toString('utf8'), exitCode: ran.exitCode, missing };
    },
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.run(t),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new CheckFailure(`the check did not finish within ${checkTimeoutMs / 1000}s`)), checkTimeoutMs);
      }),
    ]);
    return { task: check.task, title: check.title, status: 'pass', exchanges };
  } catch (error) {
    if (error instanceof CheckSkipped) return { task: check.task, title: check.title, status: 'skip', reason: error.message, exchanges };
    const reason = error instanceof CheckFailure ? error.message : `the check itself failed: ${(error as Error).message}`;
    return { task: check.task, title: check.title, status: 'fail', reason, exchanges };
  } finally {
    clearTimeout(timer);
  }
}

function safeParse(received: Buffer, methods: string[]) {
  try {
    return parseResponses(received, methods, false);
  } catch {
    return [];
  }
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

async function waitForPort(port: number, who: Started, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await canConnect(port)) return;
    const said = who.stderrLines().at(-1);
    if (who.exited()) throw new Error(`it exited before it listened on port ${port}${said ? `: ${said}` : ''}`);
    if (Date.now() > until) throw new Error(`nothing listened on port ${port} within ${ms / 1000}s (is it listening on the port in PORT?)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}
