/**
 * One HTTP exchange as the server's layers see it. A local redirect (RFC 3875 §6.2.2) makes a
 * new Exchange for the same connection: a GET of the new location, one level deeper.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveRequest } from '../live-events.ts';

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** The request target as the script will see it in REQUEST_URI: path and query, raw. */
  target: string;
  /** The raw path part of the target. */
  rawPath: string;
  /** The raw query, without '?': '' when there is none. */
  query: string;
  /** How many local redirects led here. */
  redirects: number;
  /** The request as the live view follows it (src/live-events.ts); none for the server's own pages. */
  live?: LiveRequest;
  /** Set when the server knows better than res (NPH: the script wrote the status line). */
  logged: { status?: number; bytes?: number };
}

export function exchangeFor(req: IncomingMessage, res: ServerResponse): Exchange {
  return { req, res, method: req.method ?? 'GET', ...splitTarget(req.url ?? '/'), redirects: 0, logged: {} };
}

export function splitTarget(target: string): Pick<Exchange, 'target' | 'rawPath' | 'query'> {
  const q = target.indexOf('?');
  return q < 0 ? { target, rawPath: target, query: '' } : { target, rawPath: target.slice(0, q), query: target.slice(q + 1) };
}

/**
 * RFC 3875 §6.2.2: a local redirect is served as if the client had asked for the new location,
 * a GET on the same connection, one level deeper. The new exchange's query is the location's.
 */
export function localRedirect(ex: Exchange, location: string): Exchange {
  return { ...ex, method: 'GET', ...splitTarget(location), redirects: ex.redirects + 1 };
}

/** A short plain-text reply from the server itself (errors, 503, 413...). */
export function replyText(ex: Exchange, status: number, text: string, headers: Record<string, string> = {}): void {
  const { res } = ex;
  if (res.headersSent) return void res.destroy();
  const body = `${status} ${text}\n`;
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(ex.method === 'HEAD' ? undefined : body);
}
