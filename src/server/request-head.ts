/**
 * What the front checks of a request's head before anything is chosen, beyond what node:http's
 * parser already refuses (a missing Host in HTTP/1.1, bad bytes, smuggling shapes):
 *
 * - RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
 *   request message that lacks a Host header field and to any request message that contains
 *   more than one Host header field line or a Host header field with an invalid field value."
 *   node keeps the first of two Host lines and drops the other; a proxy in front may have
 *   believed the other one, so the two disagree on which site this is.
 * - RFC 9112 §3.2.2: "A server MUST accept the absolute-form in requests", and when a target is
 *   in absolute-form "the server MUST ignore the received Host header field (if any) and
 *   instead use the host information of the request-target". The path is cut from the target
 *   as a string, never through a URL parser, so it is decoded and normalised exactly once, by
 *   the same code as any other (src/server/paths.ts).
 */
import type { IncomingMessage } from 'node:http';

/** Makes the head one the rest of the server reads as usual; returns why it is a 400, if it is. */
export function checkRequestHead(req: IncomingMessage): string | undefined {
  const hosts = hostLines(req);
  if (hosts.length > 1) return 'more than one Host header (RFC 9112 §3.2)';
  const target = req.url ?? '/';
  if (target.startsWith('/') || target === '*') return undefined;
  // scheme "://" authority [ path-abempty ] [ "?" query ]
  const absolute = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(target);
  if (!absolute) return undefined; // authority-form (CONNECT) and the rest: paths.ts says 400
  const [, , authority = '', rest = ''] = absolute;
  if (authority === '' || authority.includes('@')) return 'an absolute-form target needs a host and no user information (RFC 9112 §3.2.2)';
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
  // The target's host wins: in rawHeaders (what HTTP_HOST and SERVER_NAME are made of) and headers.
  for (const at of hosts) req.rawHeaders[at + 1] = authority;
  if (hosts.length === 0) req.rawHeaders.push('Host', authority);
  req.headers.host = authority;
  return undefined;
}

/** The indexes in rawHeaders of the Host lines' names. */
function hostLines(req: IncomingMessage): number[] {
  const at: number[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    // Only a four-letter name can be Host: no lower-casing of every name of every request.
    if (name.length === 4 && name.toLowerCase() === 'host') at.push(i);
  }
  return at;
}

/** A loopback address, as node reports a peer: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
