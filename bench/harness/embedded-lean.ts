/**
 * The lean design for embedded mode, as a floor to measure webhist against: the least a Node
 * server keeping the CGI-text contract can spend on a handler's request. It uses the kit's own
 * environment builder, head planner and buffered access log, and nothing else: one Map lookup of
 * the script, the handler called with a plain { write, end } object as its stdout (not the
 * Writable the contract promises), the head planned from what it printed, one writeHead and one
 * end, and the access-log line written right after. No path normalisation, no limits, no clock,
 * no live view, no watchdog, no fault containment: what webhist spends above this is the price of
 * those (bench/README.md, "Embedded mode against its floor").
 *
 * Pieces of webhist can be put back, one at a time, to see what each costs:
 * - `runner`: the handler called through the kit's handler runner (a Writable stdout, the call's
 *   AsyncLocalStorage scope, the whole-output promise, an empty request-body stream);
 * - `watchdog`: the runner's watchdog thread as well (with `runner`);
 * - `live`: the live view's request records, and the access-log line written from the response's
 *   'close', as webhist's front does.
 *
 * usage: node bench/harness/embedded-lean.ts [runner,watchdog,live]   (prints its URL; serves /cgi-bin/hello.js)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { buildEnv } from '../../src/cgi/env.ts';
import { planWholeOutput } from '../../src/cgi/response.ts';
import { requestArrived, requestEnded, requestRuns } from '../../src/live-events.ts';
import { shippedCgiBin } from '../../src/package-root.ts';
import { createHandlerRunner } from '../../src/run/handler.ts';
import { describeScript } from '../../src/script/describe.ts';
import type { Handler } from '../../src/script/handler.ts';
import { createLogger, defaultLogBuffer } from '../../src/server/log.ts';
import { noBody } from '../../src/server/request-body.ts';

const pieces = new Set((process.argv[2] ?? '').split(',').filter(Boolean));
const unknown = [...pieces].filter((piece) => !['runner', 'watchdog', 'live'].includes(piece));
if (unknown.length > 0) throw new Error(`embedded-lean: no such piece: ${unknown.join(', ')} (runner, watchdog, live)`);

const file = join(shippedCgiBin, 'hello.js');
const scriptName = '/cgi-bin/hello.js';
const handlers = new Map<string, Handler>([[scriptName, (await import(pathToFileURL(file).href)).default]]);
const logger = createLogger({ format: 'clf', buffer: defaultLogBuffer });
const runner = pieces.has('runner') ? createHandlerRunner({ logger, watchdog: pieces.has('watchdog') }) : undefined;
const script = await describeScript(file, scriptName);
const thisProcess = { pid: process.pid };

/** Calls the handler and gets its whole output: directly, or through the kit's runner. */
function callHandler(handler: Handler, env: Record<string, string>, req: IncomingMessage): Promise<Buffer | undefined> {
  if (runner) return runner.tryWhole({ script, env, args: [], body: noBody().body, logStderr: () => {} }).output;
  const printed: Buffer[] = [];
  const stdout = {
    write(chunk: string | Buffer) {
      printed.push(Buffer.from(chunk));
      return true;
    },
    end() {},
  };
  // The contract's stdout is a Writable; hello.js, like most handlers, only calls write().
  return Promise.resolve(handler({ env, stdin: req, stdout: stdout as unknown as Writable })).then(() =>
    printed.length === 1 ? printed[0] : Buffer.concat(printed),
  );
}

function logAccess(req: IncomingMessage, res: ServerResponse, began: number, bytes: number | undefined): void {
  logger.access({
    remoteAddress: req.socket.remoteAddress ?? '-',
    time: new Date(began),
    method: req.method ?? '-',
    target: req.url ?? '-',
    protocol: `HTTP/${req.httpVersion}`,
    status: res.statusCode,
    bytes,
    referer: undefined,
    userAgent: undefined,
    durationMs: Date.now() - began,
  });
}

const server = createServer({ keepAlive: true }, (req, res) => {
  const began = Date.now();
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const handler = handlers.get(path);
  if (!handler) return void res.writeHead(404).end();
  const live = pieces.has('live') ? requestArrived(req.method ?? 'GET', target, began) : undefined;
  let bytes: number | undefined;
  if (live) {
    res.on('close', () => {
      requestEnded(live, res.statusCode, res.writableFinished);
      logAccess(req, res, began, bytes);
    });
  }
  const { socket } = req;
  const env = buildEnv({
    method: req.method ?? 'GET',
    requestUri: target,
    query: q < 0 ? '' : target.slice(q + 1),
    rawHeaders: req.rawHeaders,
    httpVersion: req.httpVersion,
    scriptName: path,
    scriptFilename: file,
    pathInfo: '',
    documentRoot: shippedCgiBin,
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    serverAddress: socket.localAddress ?? '',
    serverPort: socket.localPort ?? 0,
    serverSoftware: 'lean',
  });
  callHandler(handler, env, req).then(
    (output) => {
      const whole = output && planWholeOutput(output);
      if (!whole || whole.plan.kind === 'local-redirect') return void res.writeHead(502).end();
      res.writeHead(whole.plan.status, whole.plan.reason, whole.headerLines);
      res.end(whole.body);
      bytes = whole.body.length;
      if (live) requestRuns(live, scriptName, thisProcess);
      else logAccess(req, res, began, bytes);
    },
    () => res.writeHead(500).end(),
  );
});
server.listen(0, '127.0.0.1', () => {
  const extras = pieces.size > 0 ? ` with ${[...pieces].join(', ')}` : '';
  process.stdout.write(`lean embedded front${extras} on http://127.0.0.1:${(server.address() as AddressInfo).port}/\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
