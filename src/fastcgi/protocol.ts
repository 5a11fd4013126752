/**
 * The constants of FastCGI 1.0 (Mark R. Brown, Open Market, 29 April 1996), named as the
 * specification names them, with the section that defines each. Both sides of the protocol
 * (app.ts, client.ts) and the codec (records.ts, params.ts) read them from here.
 */

/** FCGI_VERSION_1, the only version there is (§8). */
export const FCGI_VERSION_1 = 1;

/** FCGI_HEADER_LEN: the fixed part of every record (§3.3, §8). */
export const HEADER_LENGTH = 8;

/** contentLength is two bytes (§3.3): a longer stream is split into several records. */
export const MAX_CONTENT_LENGTH = 65535;

/** paddingLength is one byte (§3.3). */
export const MAX_PADDING_LENGTH = 255;

/** FCGI_NULL_REQUEST_ID: management records travel on request id 0 (§3.3, §8). */
export const NULL_REQUEST_ID = 0;

/** FCGI_LISTENSOCK_FILENO: the listening socket an application inherits is fd 0 (§2.2). */
export const LISTENSOCK_FILENO = 0;

/** The `type` byte of a record header (§8); "stream" types end with an empty record (§3.3). */
export const RecordType = {
  BEGIN_REQUEST: 1, // §5.1, web server → app, discrete
  ABORT_REQUEST: 2, // §5.4, web server → app, discrete
  END_REQUEST: 3, // §5.5, app → web server, discrete
  PARAMS: 4, // §5.2, web server → app, stream of name-value pairs
  STDIN: 5, // §5.3, web server → app, stream
  STDOUT: 6, // §5.3, app → web server, stream
  STDERR: 7, // §5.3, app → web server, stream
  DATA: 8, // §5.3, web server → app, stream (FILTER role only)
  GET_VALUES: 9, // §4.1, management
  GET_VALUES_RESULT: 10, // §4.1, management
  UNKNOWN_TYPE: 11, // §4.2, management
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** The `role` of FCGI_BeginRequestBody (§5.1, §6). */
export const Role = {
  RESPONDER: 1, // §6.2: a CGI/1.1 program
  AUTHORIZER: 2, // §6.3: allow (200) or deny a request
  FILTER: 3, // §6.4: a responder that also reads a file on the FCGI_DATA stream
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** The `flags` mask of FCGI_BeginRequestBody (§5.1). */
export const Flags = {
  /** Keep the connection open after this request: the web server closes it (§3.5). */
  KEEP_CONN: 1,
} as const;

/** The `protocolStatus` of FCGI_EndRequestBody (§5.5). */
export const ProtocolStatus = {
  REQUEST_COMPLETE: 0, // normal end of request
  CANT_MPX_CONN: 1, // refused: a second request on a connection that cannot multiplex
  OVERLOADED: 2, // refused: out of some resource
  UNKNOWN_ROLE: 3, // refused: a role the application does not play
} as const;
export type ProtocolStatus = (typeof ProtocolStatus)[keyof typeof ProtocolStatus];

/** The variables FCGI_GET_VALUES may ask for (§4.1). */
export const ValueName = {
  MAX_CONNS: 'FCGI_MAX_CONNS', // concurrent transport connections the app accepts
  MAX_REQS: 'FCGI_MAX_REQS', // concurrent requests the app accepts
  MPXS_CONNS: 'FCGI_MPXS_CONNS', // "1" if it runs several requests on one connection
} as const;

/**
 * Not in the specification: webhist's own GET_VALUES variable, the application's process id.
 * §4.1 leaves the set of variables open ("an application that doesn't understand a variable
 * name ... omits that name"), so asking is harmless. A pool asks it on each new connection to
 * learn which worker accepted it: the pid a connection-level fault (a hung handler, protocol
 * garbage) must be charged to.
 */
export const PID_VALUE = 'WEBHIST_PID';

/** The spec's name of a constant, for messages and traces: nameOf(RecordType, 6) = 'STDOUT'. */
export function nameOf(table: Record<string, number>, value: number): string {
  for (const [name, v] of Object.entries(table)) if (v === value) return name;
  return String(value);
}

/** Every error this package raises about the protocol or a peer; its message starts "fastcgi: ". */
export class FastCgiError extends Error {
  override name = 'FastCgiError';
}

/** The peer sent bytes that are not FastCGI records, or records out of order: it is not to be trusted further. */
export class FastCgiProtocolError extends FastCgiError {
  override name = 'FastCgiProtocolError';
}
