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
import { isHiddenPath, normalizeRequestPath, resolveScript } from './paths.ts';
import { checkRequestHead, isLoopback } from './request-head.ts';
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
  /** How long a client may take to send a request's head, then 408 (node's headersTimeout; slowloris). */
  headerTimeoutMs?: number;
  /** Serve /webhist/ (pids, scripts, socket paths) to clients other than loopback ones. */
  exposeStatus?: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

export const serverSoftware = 'webhist/0.1';
/** Tighter than node's 60 s, as Apache's mod_reqtimeout (20 s for the head) is: a head is small. */
export const defaultHeaderTimeoutMs = 20_000;
/** What node's parser reports, answered as RFC 9110 §15.5.9 and RFC 6585 §5 say; the rest is a 400. */
const clientErrorStatus: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
};
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
    // They name pids, scripts and socket paths: for this machine only, unless --expose-status.
    if (path.startsWith('/webhist/')) {
      if (!options.exposeStatus && !isLoopback(ex.req.socket.remoteAddress)) {
        return replyText(ex, 403, 'Forbidden: /webhist/ answers clients on this machine only (the server was not started with --expose-status)');
      }
      return webhistPages.serve(ex, path);
    }
    if (isHiddenPath(path)) return replyText(ex, 404, 'Not Found');
    if (path === cgiPrefix || path.startsWith(`${cgiPrefix}/`)) {
      const lookup = findScript(path.slice(cgiPrefix.length));
      const found = lookup instanceof Promise ? await lookup : lookup;
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
  const headersTimeout = options.headerTimeoutMs ?? defaultHeaderTimeoutMs;
  const limits = {
    // A client that trickles its head (slowloris) holds a connection this long, then gets 408.
    headersTimeout,
    // The whole request, body included: node's 300 s, or the head's limit if that is longer.
    requestTimeout: Math.max(300_000, headersTimeout),
    // node looks for overdue heads every 30 s by default: a limit of 20 s would mean 20-50 s.
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
  };
  const server = createServer({ keepAlive: true, shouldUpgradeCallback: isWebSocketUpgrade, ...limits }, (req: IncomingMessage, res: ServerResponse) => {
    const refused = checkRequestHead(req);
    const ex = exchangeFor(req, res);
    const began = Date.now();
    // Read now: by the time the response closes, the request (and its socket) may be destroyed.
    const remoteAddress = req.socket.remoteAddress ?? '-';
    // The live view (src/live-events.ts) sees every request but its own.
    const watched = !ex.rawPath.startsWith('/webhist/');
    if (watched) ex.live = requestArrived(ex.method, ex.target, began);
    // 'close' comes once; on() spares the wrapper once() would make for every request.
    res.on('close', () => {
      requestEnded(ex.live, ex.logged.status ?? res.statusCode, res.writableFinished);
      const length = res.getHeader('content-length');
      logger.access({
        remoteAddress,
        time: new Date(began),
        method: req.method ?? '-',
        target: req.url ?? '-',
        protocol: `HTTP/${req.httpVersion}`,
        status: ex.logged.status ?? res.statusCode,
        // A HEAD's Content-Length is what a GET would send: no body bytes went out (CLF's "-").
        bytes: ex.logged.bytes ?? (length === undefined || req.method === 'HEAD' ? undefined : Number(length)),
        referer: req.headers.referer,
        userAgent: req.headers['user-agent'],
        durationMs: Date.now() - began,
      });
    });
    if (refused) {
      res.shouldKeepAlive = false;
      return replyText(ex, 400, `Bad Request: ${refused}`);
    }
    dispatch(ex).catch((error: Error) => {
      logger.error('error', 'server', error.stack ?? error.message);
      replyText(ex, 500, 'Internal Server Error');
    });
  });
  server.on('upgrade', sockets.upgrade);
  // A peer that resets a half-open connection must never take the server down.
  // A head not sent in time (headersTimeout, requestTimeout) is a 408 (RFC 9110 §15.5.9), one too
  // large a 431 (RFC 6585 §5); anything else the parser refused, a 400.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return void socket.destroy();
    const status = clientErrorStatus[error.code ?? ''] ?? '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
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
