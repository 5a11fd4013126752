/**
 * The application side of FastCGI: what php-fpm, libfcgi's FCGI_Accept loop and Go's
 * fcgi.Serve do. createApp() gives a 'connection' listener for any net.Server, including one on
 * an inherited listening socket (`server.listen({ fd: LISTENSOCK_FILENO })`, §2.2); each
 * connection (app-connection.ts) reads BEGIN_REQUEST, PARAMS, STDIN and DATA, runs the
 * handler per request, several at once on one connection, and writes STDOUT, STDERR and
 * END_REQUEST (§5, §6).
 *
 * All three roles are played. RESPONDER and AUTHORIZER look alike from here (what an
 * authorizer's status means is the web server's business, §6.3); FILTER gets the FCGI_DATA
 * stream as `data` (§6.4). The library itself answers GET_VALUES and unknown management
 * records (§4), refuses unknown roles, a second request where multiplexing is off and requests
 * past FCGI_MAX_REQS (§5.5), and closes the connection after a request without
 * FCGI_KEEP_CONN (§5.1).
 *
 * Serve from `net.createServer({ allowHalfOpen: true }, app.serve)`: a web server that shuts
 * down its sending side after the request still gets the answer.
 */
import type { Socket } from 'node:net';
import { DEFAULT_MAX_PARAMS_BYTES } from './params.ts';
import { AppConnection } from './app-connection.ts';
import type { AppHandler, AppOptions, AppSettings } from './app-contract.ts';

export type { AppHandler, AppOptions, AppRequest, AppResponse } from './app-contract.ts';

export interface FastCgiApp {
  /** Serves one accepted connection until it closes; a net.Server 'connection' listener. */
  serve: (socket: Socket) => void;
  /**
   * Stops gracefully, say to retire a worker: requests in flight finish, each connection closes
   * once idle, and a request that arrives meanwhile is refused with OVERLOADED, which tells the
   * web server it did not run (§5.5). Resolves when every connection has closed.
   */
  close(): Promise<void>;
  readonly connections: number;
  readonly activeRequests: number;
}

export function createApp(handler: AppHandler, options: AppOptions = {}): FastCgiApp {
  const settings: AppSettings = {
    maxConns: options.maxConns ?? 1024,
    maxReqs: options.maxReqs ?? 1024,
    multiplex: options.multiplex ?? true,
    maxParamsBytes: options.maxParamsBytes ?? DEFAULT_MAX_PARAMS_BYTES,
    paramsTimeoutMs: options.paramsTimeoutMs ?? 5000,
    idleTimeoutMs: options.idleTimeoutMs ?? 75_000,
    webServerAddrs: options.webServerAddrs,
    onRecord: options.onRecord,
    log: options.log ?? ((message) => console.error(message)),
  };
  const counts = { connections: 0, requests: 0 };
  const live = new Set<AppConnection>();
  let closing = false;
  return {
    serve(socket) {
      // First of all: a peer that resets the connection must never crash the process.
      socket.on('error', (error) => settings.log(`fastcgi: connection error: ${error.message}`));
      // At the limit, an idle connection makes room (closed now, it is counted until its 'close').
      const refusal = closing
        ? 'fastcgi: refusing a connection: the application is closing'
        : (notAllowed(socket, settings) ??
          (counts.connections >= settings.maxConns && !evictIdlest(live, settings)
            ? `fastcgi: refusing a connection: FCGI_MAX_CONNS (${settings.maxConns}) reached, none of them idle`
            : undefined));
      if (refusal) {
        settings.log(refusal);
        socket.destroy();
        return;
      }
      counts.connections++;
      const connection = new AppConnection(socket, handler, settings, counts);
      live.add(connection);
      socket.once('close', () => (counts.connections--, live.delete(connection)));
    },
    async close() {
      closing = true;
      await Promise.all([...live].map((connection) => connection.drain()));
    },
    get connections() {
      return counts.connections;
    },
    get activeRequests() {
      return counts.requests;
    },
  };
}

/**
 * At FCGI_MAX_CONNS, a connection that carries nothing is worth less than one that brings a
 * request: the one idle the longest is closed (destroyed: it holds no request, and a peer
 * holding connections open to fill the table would not close its side).
 */
function evictIdlest(live: Set<AppConnection>, settings: AppSettings): boolean {
  let idlest: AppConnection | undefined;
  for (const connection of live) {
    const since = connection.idleSince;
    if (since !== undefined && (idlest === undefined || since < idlest.idleSince!)) idlest = connection;
  }
  if (!idlest) return false;
  settings.log(
    `fastcgi: FCGI_MAX_CONNS (${settings.maxConns}) reached: closing the connection idle the longest (${Math.round((Date.now() - idlest.idleSince!) / 1000)} s) for a new one`,
  );
  live.delete(idlest); // no longer a candidate, nor counted once its socket closes
  idlest.evict();
  return true;
}

/** FCGI_WEB_SERVER_ADDRS (§3.2): why this peer may not connect, if it may not. */
function notAllowed(socket: Socket, settings: AppSettings): string | undefined {
  if (settings.webServerAddrs) {
    const peer = socket.remoteAddress?.replace(/^::ffff:/, ''); // an IPv4 peer on a dual-stack socket
    if (!peer || !settings.webServerAddrs.includes(peer))
      return `fastcgi: refusing a connection from ${peer ?? 'a non-TCP peer'}: not in FCGI_WEB_SERVER_ADDRS`;
  }
  return undefined;
}
