/**
 * What an application's handler is given and gives back, one request at a time (FastCGI §6.2),
 * and the knobs of the application side. Declared here, below both app.ts (which accepts
 * connections) and app-connection.ts (which runs each request on one), so neither imports the other's types.
 */
import type { Readable } from 'node:stream';
import type { Role } from './protocol.ts';
import type { TraceRecord } from './trace.ts';

export interface AppRequest {
  id: number;
  role: Role;
  /** The web server keeps the connection for further requests (FCGI_KEEP_CONN). */
  keepConn: boolean;
  /**
   * The PARAMS stream: the CGI meta-variables, a fresh object per request, each an own data
   * property (a param named __proto__ is data, not the object's prototype).
   */
  params: Record<string, string>;
  /** The request body (FCGI_STDIN); empty for an authorizer. Destroyed on abort. */
  stdin: Readable;
  /** FILTER only: the file to filter (FCGI_DATA, §6.4). */
  data: Readable | undefined;
  /** Fires on ABORT_REQUEST, or when the connection to the web server is lost. */
  signal: AbortSignal;
}

/** The response as it is produced: streams, and a promise of the exit status. */
interface StreamedResponse {
  /** What a CGI program prints; read with backpressure, so a slow web server slows it down. */
  stdout: Readable;
  /** Error output, sent on FCGI_STDERR for the web server's log. */
  stderr?: Readable;
  /**
   * The exit status a CGI program would return: END_REQUEST's appStatus (§6.2). END_REQUEST
   * goes out once this settles and stdout (and stderr) have ended; a rejection is reported on
   * STDERR and sent as appStatus 1. After an abort, output is dropped and the streams are
   * destroyed once this settles: END_REQUEST is the application's answer to it (§5.4).
   */
  finished: Promise<number>;
}

/**
 * The response already whole, as a handler that finished within a turn of the event loop gives it:
 * sent as STDOUT records and END_REQUEST in one write, with no stream to copy from.
 */
interface WholeResponse {
  output: Buffer;
  appStatus: number;
}

export type AppResponse = StreamedResponse | WholeResponse;

export type AppHandler = (request: AppRequest) => AppResponse | Promise<AppResponse>;

export interface AppOptions {
  /**
   * FCGI_MAX_CONNS. At the limit, the connection idle the longest is closed to make room; with
   * none idle, the new one is closed at once. Default 1024.
   */
  maxConns?: number;
  /** FCGI_MAX_REQS: requests past this get END_REQUEST OVERLOADED. Default 1024. */
  maxReqs?: number;
  /** FCGI_MPXS_CONNS: run several requests on one connection. Default true. */
  multiplex?: boolean;
  /** The PARAMS stream of one request is refused past this many bytes. Default 1 MiB. */
  maxParamsBytes?: number;
  /**
   * A request's PARAMS must have ended this long after its BEGIN_REQUEST, or the connection is
   * closed: a web server has the whole environment in hand and sends it at once. Default 5 s.
   */
  paramsTimeoutMs?: number;
  /**
   * A connection with no request in progress for this long is closed (0: never). Default 75 s,
   * longer than nginx's upstream keepalive_timeout (60 s), so that a kept connection is
   * normally closed by the web server, never under a request it is sending.
   */
  idleTimeoutMs?: number;
  /** FCGI_WEB_SERVER_ADDRS (§3.2): when given, only these IP addresses may connect. */
  webServerAddrs?: readonly string[];
  /** Sees every record received and sent: `--trace`. */
  onRecord?: TraceRecord;
  /** Protocol errors, lost connections, failed handlers. Default: console.error. */
  log?: (message: string) => void;
}

export type AppSettings = Required<Omit<AppOptions, 'webServerAddrs' | 'onRecord'>> & Pick<AppOptions, 'webServerAddrs' | 'onRecord'>;
