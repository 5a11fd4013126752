/**
 * The HTTP front (DESIGN.md, "The layers"): node:http with keep-alive, the static docroot
 * (the CERN httpd job), /cgi-bin/ handed to the mode through the gateway, a status page, and
 * the access log. Paths are decoded and normalised once, here, before anything is chosen.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { realpath } from 'node:fs/promises';
import { listen } from '../io/listen.ts';
import { replyText, exchangeFor, type Exchange } from './exchange.ts';
import { describeScript, NotAScript } from '../script/describe.ts';
import { createGateway, type FoundScript, type GatewayOptions } from './gateway.ts';
import { normalizeRequestPath, resolveScript } from './paths.ts';
import { revalidateEvery } from './revalidate.ts';
import { serveStatic } from './static.ts';
import { createStatusRoutes, type StatusFacts } from './status.ts';
import { requestArrived, requestEnded, serverProcessStarted } from '../live-events.ts';
import { createWebSocketFront, isWebSocketUpgrade } from './websocket.ts';

/** The gateway's options, less what the front supplies itself, and where to listen. */
export interface ServerOptions extends Omit<GatewayOptions, 'serverSoftware' | 'redispatch'> {
  host: string;
  port: number;
  /** How long what the disk said about a script is trusted (opcache.revalidate_freq); 0 = ask every time. */
  revalidateMs: number;
  /** Bounds of /webhist/events, where the defaults will not do. */
  eventStream?: StatusFacts['eventStream'];
}

export interface RunningServer {
  url: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

export const serverSoftware = 'webhist/0.1';
const cgiPrefix = '/cgi-bin';

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const cgiBin = await realpath(options.cgiBin);
  const docroot = await realpath(options.docroot);
  const { mode, logger } = options;
  const gateway = createGateway({ ...options, cgiBin, docroot, serverSoftware, redispatch: dispatch });
  /** Which script a path names, and what it is: asked of the disk at most once per --revalidate. */
  const findScript = revalidateEvery(options.revalidateMs, async (rest: string): Promise<FoundScript | undefined> => {
    const location = await resolveScript(cgiBin, rest);
    if (!location) return undefined;
    const script = await describeScript(location.file, `${cgiPrefix}${location.scriptPath}`).catch((error: Error) => error);
    return { location, script };
  });
  const startedAt = Date.now();
  const webhistPages = createStatusRoutes({ mode, startedAt, running: () => gateway.running, eventStream: options.eventStream });
  serverProcessStarted();

  async function dispatch(ex: Exchange): Promise<void> {
    const path = normalizeRequestPath(ex.rawPath);
    if (path === undefined) return replyText(ex, 400, 'Bad Request: the path cannot be decoded safely');
    // The server's own pages (status, the live view's events): one prefix, routed in one place.
    if (path.startsWith('/webhist/')) return webhistPages.serve(ex, path);
    if (path === cgiPrefix || path.startsWith(`${cgiPrefix}/`)) {
      const found = await findScript(path.slice(cgiPrefix.length));
      if (!found) return replyText(ex, 404, `Not Found: no script at ${path}`);
      if (found.script instanceof NotAScript) {
        logger.error('warn', path, found.script.message);
        return replyText(ex, 403, `Forbidden: ${found.script.message}`);
      }
      return gateway.serve(ex, found);
    }
    ex.logged.status = await serveStatic(ex, docroot, path);
  }

  // `Upgrade: websocket` to a script: websocketd's model (./websocket.ts). Other upgrades (h2c) are plain requests.
  const sockets = createWebSocketFront({ ...options, serverSoftware, findScript, slots: gateway });
  const server = createServer({ keepAlive: true, shouldUpgradeCallback: isWebSocketUpgrade }, (req: IncomingMessage, res: ServerResponse) => {
    const ex = exchangeFor(req, res);
    const began = Date.now();
    // Read now: by the time the response closes, the request (and its socket) may be destroyed.
    const remoteAddress = req.socket.remoteAddress ?? '-';
    // The live view (src/live-events.ts) sees every request but its own.
    const watched = !ex.rawPath.startsWith('/webhist/');
    if (watched) requestArrived(req, ex.method, ex.target);
    res.once('close', () => {
      if (watched) requestEnded(req, ex.logged.status ?? res.statusCode, res.writableFinished);
      const length = res.getHeader('content-length');
      logger.access({
        remoteAddress,
        time: new Date(began),
        method: req.method ?? '-',
        target: req.url ?? '-',
        protocol: `HTTP/${req.httpVersion}`,
        status: ex.logged.status ?? res.statusCode,
        bytes: ex.logged.bytes ?? (length === undefined ? undefined : Number(length)),
        referer: req.headers.referer,
        userAgent: req.headers['user-agent'],
        durationMs: Date.now() - began,
      });
    });
    dispatch(ex).catch((error: Error) => {
      logger.error('error', 'server', error.stack ?? error.message);
      replyText(ex, 500, 'Internal Server Error');
    });
  });
  server.on('upgrade', sockets.upgrade);
  // A peer that resets a half-open connection must never take the server down.
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await listen(server, { port: options.port, host: options.host });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;

  return {
    url: `http://${host}:${port}/`,
    port,
    async close(graceMs = 5000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      webhistPages.close();
      sockets.close();
      const timer = setTimeout(() => {
        if (gateway.running) logger.error('warn', 'server', `shutting down: cutting ${gateway.running} request(s) still running`);
        server.closeAllConnections();
      }, graceMs);
      await closed;
      clearTimeout(timer);
      await mode.close();
    },
  };
}
