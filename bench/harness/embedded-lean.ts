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
 * usage: node bench/harness/embedded-lean.ts   (prints its URL; serves /cgi-bin/hello.js)
 */
import { createServer } from 'node:http';
import type { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildEnv } from '../../src/cgi/env.ts';
import { planWholeOutput } from '../../src/cgi/response.ts';
import { shippedCgiBin } from '../../src/package-root.ts';
import type { Handler } from '../../src/script/handler.ts';
import { createLogger, defaultLogBuffer } from '../../src/server/log.ts';

const file = join(shippedCgiBin, 'hello.js');
const handlers = new Map<string, Handler>([['/cgi-bin/hello.js', (await import(pathToFileURL(file).href)).default]]);
const logger = createLogger({ format: 'clf', buffer: defaultLogBuffer });

const server = createServer({ keepAlive: true }, (req, res) => {
  const began = Date.now();
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const handler = handlers.get(path);
  if (!handler) return void res.writeHead(404).end();
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
  const printed: Buffer[] = [];
  const stdout = {
    write(chunk: string | Buffer) {
      printed.push(Buffer.from(chunk));
      return true;
    },
    end() {},
  };
  const answer = () => {
    const whole = planWholeOutput(printed.length === 1 ? (printed[0] as Buffer) : Buffer.concat(printed));
    if (!whole || whole.plan.kind === 'local-redirect') return void res.writeHead(502).end();
    res.writeHead(whole.plan.status, whole.plan.reason, whole.headerLines);
    res.end(whole.body);
    logger.access({
      remoteAddress: socket.remoteAddress ?? '-',
      time: new Date(began),
      method: req.method ?? '-',
      target,
      protocol: `HTTP/${req.httpVersion}`,
      status: whole.plan.status,
      bytes: whole.body.length,
      referer: undefined,
      userAgent: undefined,
      durationMs: Date.now() - began,
    });
  };
  // The contract's stdout is a Writable; hello.js, like most handlers, only calls write().
  Promise.resolve(handler({ env, stdin: req, stdout: stdout as unknown as Writable })).then(answer, () => res.writeHead(500).end());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`lean embedded front on http://127.0.0.1:${(server.address() as AddressInfo).port}/\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
