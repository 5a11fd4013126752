/**
 * `webhist run SCRIPT`: one request, run as CGI runs it (src/run/program.ts), with no server. It shows the three
 * things a backend is: the environment and stdin going in, the bytes coming out, and the HTTP
 * response a server makes of them.
 */
import { Command, Option } from 'commander';
import { isUtf8 } from 'node:buffer';
import { readFile, realpath, stat } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { basename, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { buildEnv, searchArgs } from '../cgi/env.ts';
import { CgiOutputError, planResponse, readCgiHead, type ResponsePlan } from '../cgi/response.ts';
import { describeScript } from '../script/describe.ts';
import { spawnProgram } from '../run/program.ts';
import { serverSoftware } from '../server/http-front.ts';
import { defaultFolders } from './folders.ts';
import { formatDuration, parseTimeLimit } from './options.ts';
import { paint, UsageError } from './ui.ts';

interface RunOptions {
  method: string;
  query: string;
  pathInfo: string;
  header: string[];
  data?: string;
  dataFile?: string;
  timeout: number;
  docroot?: string;
  json?: boolean;
}

export const runCommand = new Command('run')
  .description('run one request through a CGI script, no server: environment in, bytes out')
  .argument('<script>', 'the script file, e.g. cgi-bin/printenv.js')
  .option('--method <method>', 'REQUEST_METHOD', 'GET')
  .option('--query <string>', 'QUERY_STRING (without the ?)', '')
  .option('--path-info <path>', 'PATH_INFO, e.g. /extra/path', '')
  .option('--header <field>', "a request header, 'Name: value' (repeatable)", (v: string, all: string[]) => [...all, v], [])
  .option('--data <string>', 'the request body')
  .option('--data-file <file>', 'the request body, from a file')
  .addOption(new Option('--timeout <duration>', 'kill the script after this long (504)').default(30_000, formatDuration(30_000)).argParser(parseTimeLimit))
  .option('--docroot <dir>', 'DOCUMENT_ROOT (default: what serve would use here)')
  .option('--json', 'print one JSON object instead: env, stdout, stderr, exit and the response (bodies as text, or base64)')
  .addHelpText(
    'after',
    `
Exits 1 when the script fails or the server would answer 5xx.

Examples:
  webhist run cgi-bin/printenv.js --query a=1 --path-info /x
  webhist run cgi-bin/echo.js --method POST --data 'name=Ada'
  webhist run cgi-bin/hang.js --timeout 2s      the 504 a server sends, and why`,
  )
  .action(async (scriptPath: string, options: RunOptions) => {
    const file = resolve(scriptPath);
    if (!(await stat(file).catch(() => undefined))?.isFile()) throw new UsageError(`${scriptPath}: no such script`);
    if (options.data !== undefined && options.dataFile) throw new UsageError('give --data or --data-file, not both');
    const body = options.dataFile
      ? await readFile(options.dataFile).catch((error: NodeJS.ErrnoException) => {
          throw new UsageError(
            `--data-file ${options.dataFile}: ${error.code === 'ENOENT' ? 'no such file' : error.code === 'EISDIR' ? 'a directory, not a file' : error.message}`,
          );
        })
      : Buffer.from(options.data ?? '');
    const name = `/cgi-bin/${basename(file)}`;
    const script = await describeScript(file, name).catch((error: Error) => {
      throw new UsageError(error.message);
    });

    const query = options.query.replace(/^\?/, '');
    const env = buildEnv({
      method: options.method.toUpperCase(),
      requestUri: `${name}${options.pathInfo}${query ? `?${query}` : ''}`,
      query,
      rawHeaders: parseHeaders(options.header, body.length),
      httpVersion: '1.1',
      scriptName: name,
      scriptFilename: file,
      pathInfo: options.pathInfo,
      // What serve would give, started in this folder: the same choice of docroot, its real path.
      documentRoot: await realpath(resolve(options.docroot ?? defaultFolders().docroot)).catch(() => {
        throw new UsageError(`--docroot ${options.docroot}: no such directory`);
      }),
      remoteAddress: '127.0.0.1',
      remotePort: 50000,
      serverAddress: '127.0.0.1',
      serverPort: 8080,
      contentLength: body.length || undefined,
      serverSoftware,
    });

    const stderr: string[] = [];
    const signal = AbortSignal.timeout(options.timeout);
    const run = spawnProgram({
      script,
      env,
      args: script.kind === 'program' ? searchArgs(options.method.toUpperCase(), query) : [],
      body: Readable.from([body]),
      signal,
      logStderr: (line) => stderr.push(line),
    });
    // Kept as the pipe delivered them: the server sends each piece as it comes, one chunk each.
    const chunks: Buffer[] = [];
    for await (const chunk of run.stdout) chunks.push(chunk as Buffer);
    const exit = await run.finished;
    if (!exit.ok && exit.serverFault) throw new UsageError(exit.reason);
    const output = Buffer.concat(chunks);
    const outcome = script.nph ? nphOutcome(output) : await interpret(chunks, { exitedOk: exit.ok, timedOut: signal.aborted, timeout: options.timeout });
    // Usable in scripts and checkers: a crash, or a response the server would send as 5xx, fails.
    if (!exit.ok || (outcome.status ?? 0) >= 500) process.exitCode = 1;

    if (options.json) {
      const { status, reason, headers, body: responseBody, complete, note } = outcome;
      const response = {
        status,
        reason,
        headers,
        body: responseBody && encoded(responseBody),
        complete,
        note,
        rendered: encoded(Buffer.from(render(outcome), 'latin1')),
      };
      process.stdout.write(
        `${JSON.stringify({ env, stdin: encoded(body), stdout: encoded(output), stderr, exit, timedOut: signal.aborted, response }, null, 2)}\n`,
      );
      return;
    }
    section(`environment the script received (${Object.keys(env).length} variables)`);
    for (const [key, value] of Object.entries(env).sort()) process.stdout.write(`${paint.cyan(key)}=${value}\n`);
    if (body.length) section(`stdin (${body.length} bytes)`), show(body);
    const ended = signal.aborted ? `; killed at the ${formatDuration(options.timeout)} time limit` : exit.ok ? '' : `; the script ${exit.reason}`;
    section(`what the script wrote to stdout (${output.length} bytes${ended})`);
    show(output);
    if (stderr.length) {
      section('stderr (goes to the error log)');
      for (const line of stderr) process.stdout.write(`${paint.magenta(line)}\n`);
    }
    section('the HTTP response the server would send');
    process.stdout.write(render(outcome, paint));
  });

/**
 * What the server makes of the script's output, as the gateway does it (src/server/gateway.ts):
 * the status line and headers, the framing node:http adds, and whether the body is complete.
 */
interface Outcome {
  /** Undefined for a local redirect (the server answers another URL) or an nph- script's own bytes. */
  status?: number;
  reason?: string;
  /** As sent, framing included (Content-Length or Transfer-Encoding: chunked). */
  headers: Array<[string, string]>;
  /** The body's pieces as they left the script, each one chunk when the response is chunked. */
  pieces: Buffer[];
  body?: Buffer;
  framing: 'none' | 'content-length' | 'chunked' | 'nph';
  /** False when the connection is closed before the body's end: the client sees a cut. */
  complete: boolean;
  /** What happened, in words, for the reader. */
  note?: string;
}

const noBodyStatus = (status: number) => status === 204 || status === 304 || status < 200;

async function interpret(chunks: Buffer[], run: { exitedOk: boolean; timedOut: boolean; timeout: number }): Promise<Outcome> {
  const stream = Readable.from(chunks);
  let plan: ResponsePlan;
  try {
    plan = planResponse(await readCgiHead(stream));
  } catch (error) {
    if (!(error instanceof CgiOutputError)) throw error;
    if (run.timedOut) {
      return errorOutcome(504, `the script did not answer within ${formatDuration(run.timeout)}: it was killed with its process group`);
    }
    return errorOutcome(502, `error log: ${error.message}`);
  }
  const pieces: Buffer[] = [];
  for await (const chunk of stream) pieces.push(chunk as Buffer);
  if (plan.kind === 'local-redirect') {
    return {
      headers: [],
      pieces: [],
      framing: 'none',
      complete: true,
      note: `a local redirect, RFC 3875 §6.2.2: the server answers GET ${plan.location} instead, as if the client had asked for it`,
    };
  }
  const body = Buffer.concat(pieces);
  const ended = run.exitedOk && !run.timedOut;
  const failure = run.timedOut ? `the time limit (${formatDuration(run.timeout)}) ran out` : 'the script failed';
  const declared = plan.headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1];
  const base = { status: plan.status, reason: plan.reason, pieces, body };
  if (noBodyStatus(plan.status)) return { ...base, headers: plan.headers, pieces: [], body: Buffer.alloc(0), framing: 'none', complete: true };
  if (declared !== undefined) {
    const promised = Number(declared);
    if (!/^\d{1,15}$/.test(declared.trim())) return errorOutcome(502, `error log: the script printed an invalid Content-Length: ${JSON.stringify(declared)}`);
    const complete = ended && body.length === promised;
    const note =
      body.length > promised
        ? `the script printed more than its Content-Length: the server sends ${promised} bytes and closes the connection`
        : complete
          ? undefined
          : `${failure} after ${body.length} of the ${promised} bytes promised: the server closes the connection here, short of Content-Length`;
    return { ...base, body: body.subarray(0, promised), headers: plan.headers, framing: 'content-length', complete, note };
  }
  // node:http frames a body it cannot measure in advance as chunked (RFC 9112 §7.1); an empty one
  // that ended cleanly as Content-Length: 0.
  if (!body.length && ended) return { ...base, headers: [...plan.headers, ['Content-Length', '0']], framing: 'content-length', complete: true };
  const note = ended
    ? undefined
    : `${failure} after its headers: no last chunk; the server closes the connection, and the client can tell the body is incomplete`;
  return { ...base, headers: [...plan.headers, ['Transfer-Encoding', 'chunked']], framing: 'chunked', complete: ended, note };
}

/** The gateway's own answers (src/server/gateway.ts), word for word. */
const gatewayAnswers = {
  502: 'Bad Gateway: the script did not print a valid CGI response (see the error log)',
  504: 'Gateway Timeout: the script did not answer in time',
};

function errorOutcome(status: 502 | 504, note: string): Outcome {
  const body = Buffer.from(`${status} ${gatewayAnswers[status]}\n`);
  return {
    status,
    reason: STATUS_CODES[status],
    headers: [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(body.length)],
    ],
    pieces: [body],
    body,
    framing: 'content-length',
    complete: true,
    note,
  };
}

/** RFC 3875 §5: an nph- script's bytes go to the client as they are; its status line is its own. */
function nphOutcome(output: Buffer): Outcome {
  const line = /^HTTP\/\d\.\d (\d{3}) ?([^\r\n]*)/.exec(output.toString('latin1', 0, 200));
  return {
    status: line ? Number(line[1]) : undefined,
    reason: line?.[2],
    headers: [],
    pieces: [output],
    body: output,
    framing: 'nph',
    complete: true,
    note: 'an nph- script: the bytes above go to the client unmodified, RFC 3875 §5',
  };
}

/**
 * The response as text. For people (`c` colours): CRLF framing shown as visible \r\n marks and
 * what happened as a note. Without colours (for --json): the bytes as they go on the wire, one
 * latin1 character per byte.
 */
function render(outcome: Outcome, c?: typeof paint): string {
  const { status, reason, headers, pieces, framing, complete, note } = outcome;
  const decode = (bytes: Buffer) => bytes.toString(c ? 'utf8' : 'latin1');
  const dim = c?.dim ?? ((text: string) => text);
  const aside = note && c ? `${(complete ? c.dim : c.red)(`(${note})`)}\n` : '';
  if (status === undefined || framing === 'nph') return aside;
  // Framing bytes: themselves on the wire, a visible mark on a line of its own for people.
  const frame = (bytes: string) => (c ? `${dim(bytes.replaceAll('\r\n', '\\r\\n'))}\n` : bytes);
  const statusLine = `HTTP/1.1 ${status} ${reason}`;
  const eol = c ? '\n' : '\r\n';
  let text = `${c ? (status >= 500 ? c.red : c.green)(statusLine) : statusLine}${eol}${headers.map(([k, v]) => `${k}: ${v}${eol}`).join('')}${eol}`;
  if (framing === 'chunked') {
    // Each piece as it goes on the wire: its size in hex, the bytes, CRLF; a zero-size chunk ends the body.
    for (const piece of pieces) text += `${frame(`${piece.length.toString(16)}\r\n`)}${decode(piece)}${frame('\r\n')}`;
    if (complete) text += frame('0\r\n\r\n');
  } else if (outcome.body?.length) {
    const body = decode(outcome.body);
    text += c && !body.endsWith('\n') ? `${body}\n` : body;
  }
  return text + aside;
}

/** Bytes for JSON: as text when they are UTF-8, else base64, saying which. */
function encoded(bytes: Buffer): { encoding: 'utf8' | 'base64'; data: string } {
  return isUtf8(bytes) ? { encoding: 'utf8', data: bytes.toString('utf8') } : { encoding: 'base64', data: bytes.toString('base64') };
}

/** --header lines as a request's raw header lines (name, value, ...), with the Host and Content-Type a browser would send. */
function parseHeaders(fields: string[], bodyLength: number): string[] {
  const raw: string[] = [];
  for (const field of fields) {
    const colon = field.indexOf(':');
    if (colon < 1) throw new UsageError(`--header "${field}": expected 'Name: value'`);
    raw.push(field.slice(0, colon).trim(), field.slice(colon + 1).trim());
  }
  const named = (name: string) => raw.some((field, i) => i % 2 === 0 && field.toLowerCase() === name);
  if (!named('host')) raw.unshift('Host', '127.0.0.1:8080');
  if (bodyLength && !named('content-type')) raw.push('Content-Type', 'application/x-www-form-urlencoded');
  return raw;
}

function section(title: string): void {
  process.stdout.write(`\n${paint.bold(`── ${title} ──`)}\n`);
}

/** Bytes as text with line ends made visible: CGI headers may end in CRLF or LF (RFC 3875 §6.3). */
function show(bytes: Buffer): void {
  const text = bytes.toString('utf8');
  const shownText = text.length > 4000 ? `${text.slice(0, 4000)}${paint.dim(`\n… ${bytes.length - 4000} more bytes`)}` : text;
  process.stdout.write(`${shownText.replace(/\r?\n/g, (eol) => `${paint.dim(eol === '\r\n' ? '\\r\\n' : '\\n')}\n`)}\n`);
}
