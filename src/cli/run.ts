/**
 * `webhist run SCRIPT`: one request, run as CGI runs it (src/run/program.ts), with no server. It shows the three
 * things a backend is: the environment and stdin going in, the bytes coming out, and the HTTP
 * response a server makes of them.
 */
import { Command } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { buildEnv, searchArgs } from '../cgi/env.ts';
import { CgiOutputError, planResponse, readCgiHead, type ResponsePlan } from '../cgi/response.ts';
import { describeScript } from '../script/describe.ts';
import { spawnProgram } from '../run/program.ts';
import { serverSoftware } from '../server/http-front.ts';
import { parseDuration } from './options.ts';
import { paint, UsageError } from './ui.ts';

interface RunOptions {
  method: string;
  query: string;
  pathInfo: string;
  header: string[];
  data?: string;
  dataFile?: string;
  timeout: number;
  json: boolean;
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
  .option('--timeout <duration>', 'kill the script after this long', parseDuration, 30_000)
  .option('--json', 'print one JSON object instead', false)
  .action(async (scriptPath: string, options: RunOptions) => {
    const file = resolve(scriptPath);
    if (!(await stat(file).catch(() => undefined))?.isFile()) throw new UsageError(`${scriptPath}: no such script`);
    if (options.data !== undefined && options.dataFile) throw new UsageError('give --data or --data-file, not both');
    const body = options.dataFile ? await readFile(options.dataFile) : Buffer.from(options.data ?? '');
    const name = `/cgi-bin/${basename(file)}`;
    const script = await describeScript(file, name).catch((error: Error) => {
      throw new UsageError(error.message);
    });

    const query = options.query.replace(/^\?/, '');
    const env = buildEnv({
      method: options.method.toUpperCase(),
      requestUri: `${name}${options.pathInfo}${query ? `?${query}` : ''}`,
      query,
      headers: parseHeaders(options.header, body.length),
      httpVersion: '1.1',
      scriptName: name,
      scriptFilename: file,
      pathInfo: options.pathInfo,
      documentRoot: process.cwd(),
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
    const chunks: Buffer[] = [];
    for await (const chunk of run.stdout) chunks.push(chunk as Buffer);
    const exit = await run.finished;
    if (!exit.ok && exit.serverFault) throw new UsageError(exit.reason);
    const output = Buffer.concat(chunks);
    const response = script.nph ? undefined : await interpret(output);

    if (options.json) {
      process.stdout.write(`${JSON.stringify({ env, stdout: output.toString('utf8'), stderr, exit, response }, null, 2)}\n`);
      return;
    }
    section(`environment the script received (${Object.keys(env).length} variables)`);
    for (const [key, value] of Object.entries(env).sort()) process.stdout.write(`${paint.cyan(key)}=${value}\n`);
    if (body.length) section(`stdin (${body.length} bytes)`), show(body);
    section(`what the script wrote to stdout (${output.length} bytes${exit.ok ? '' : `; the script ${exit.reason}`})`);
    show(output);
    if (stderr.length) section('stderr (goes to the error log)'), stderr.forEach((line) => process.stdout.write(`${paint.magenta(line)}\n`));
    section('the HTTP response the server would send');
    process.stdout.write(script.nph ? `${paint.dim('(an nph- script: its bytes above go to the client unmodified, RFC 3875 §5)')}\n` : render(response!, exit.ok));
  });

type Interpreted = { plan: ResponsePlan; body: Buffer } | { error: string };

async function interpret(output: Buffer): Promise<Interpreted> {
  const stream = Readable.from([output]);
  try {
    const plan = planResponse(await readCgiHead(stream));
    const rest: Buffer[] = [];
    for await (const chunk of stream) rest.push(chunk as Buffer);
    return { plan, body: Buffer.concat(rest) };
  } catch (error) {
    if (error instanceof CgiOutputError) return { error: error.message };
    throw error;
  }
}

function render(response: Interpreted, exitedOk: boolean): string {
  if ('error' in response) return `${paint.red('HTTP/1.1 502 Bad Gateway')}\n${paint.dim(`(error log: ${response.error})`)}\n`;
  const { plan, body } = response;
  if (plan.kind === 'local-redirect') {
    return `${paint.dim(`(a local redirect, RFC 3875 §6.2.2: the server answers GET ${plan.location} instead, as if the client had asked for it)`)}\n`;
  }
  const headers = plan.headers.map(([k, v]) => `${k}: ${v}\n`).join('');
  const length = plan.headers.some(([k]) => k.toLowerCase() === 'content-length') ? '' : `Content-Length: ${body.length}\n`;
  const cut = exitedOk ? '' : `${paint.red('(the script failed after its headers: the server cuts the connection here)')}\n`;
  return `${paint.green(`HTTP/1.1 ${plan.status} ${plan.reason}`)}\n${headers}${length}\n${body.toString('utf8')}${cut}`;
}

function parseHeaders(fields: string[], bodyLength: number): Record<string, string[]> {
  const headers: Record<string, string[]> = { host: ['127.0.0.1:8080'] };
  for (const field of fields) {
    const colon = field.indexOf(':');
    if (colon < 1) throw new UsageError(`--header "${field}": expected 'Name: value'`);
    const key = field.slice(0, colon).trim().toLowerCase();
    (headers[key] ??= []).push(field.slice(colon + 1).trim());
  }
  if (bodyLength && !headers['content-type']) headers['content-type'] = ['application/x-www-form-urlencoded'];
  return headers;
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
