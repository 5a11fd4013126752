/**
 * The request body a script receives. RFC 3875 §4.1.2 gives a script CONTENT_LENGTH, so a
 * chunked body (which has none) is read in full, up to --max-body, and then handed over with
 * its length; a body with a Content-Length streams straight through. Either way it must arrive
 * within the request's time limit (the gateway's signal): a client that trickles its upload
 * would otherwise hold a script slot, and the memory of what it sent, for as long as it likes.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

/** A body in hand (or streaming straight through): what a script is given. */
export type ReceivedBody = { ok: true; body: Readable; length: number | undefined };
export type RequestBody = ReceivedBody | { ok: false; status: 400 | 408 | 413; message: string };

/** Whether the request's head announces a body (RFC 9112 §6.3): chunked, or a Content-Length above 0. */
export function announcesBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

export async function takeBody(req: IncomingMessage, maxBody: number, signal: AbortSignal): Promise<RequestBody> {
  const tooLarge = { ok: false, status: 413, message: `request body larger than --max-body (${maxBody} bytes)` } as const;
  if (req.headers['transfer-encoding'] !== undefined) return collect(req, maxBody, tooLarge, signal);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBody) return tooLarge;
  if (declared > 0) return { ok: true, body: req, length: declared };
  return noBody();
}

/**
 * Reads a chunked body (node:http has removed the framing; we bound and count). Past the limit
 * it stops keeping what arrives but goes on reading it, so the request stays whole and the 413
 * can be sent; the answer says Connection: close, which ends the rest. Past the time limit
 * (`signal`) what arrived is dropped and the answer is 408, with Connection: close too.
 */
function collect(req: IncomingMessage, maxBody: number, tooLarge: RequestBody, signal: AbortSignal): Promise<RequestBody> {
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let length = 0;
    const settle = (body: RequestBody) => {
      req.off('data', onData).off('end', onEnd);
      signal.removeEventListener('abort', onAbort);
      if (!body.ok) {
        chunks = [];
        req.resume();
      }
      resolve(body);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length <= maxBody) return void chunks.push(chunk);
      settle(tooLarge);
    };
    const onEnd = () => settle({ ok: true, body: Readable.from(chunks), length: length || undefined });
    const onAbort = () => settle({ ok: false, status: 408, message: (signal.reason as Error).message });
    req.on('data', onData).once('end', onEnd);
    req.once('error', () => settle({ ok: false, status: 400, message: 'the request body was cut off' }));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
  });
}

/**
 * The time ran out while the body was still arriving, and the script had read all of it that
 * came: the client, not the script, is late (Apache's mod_cgi answers 408 then too). A body the
 * script left unread does not count: that one waits on the script.
 */
export function bodyOverdue(req: IncomingMessage): boolean {
  return !req.complete && req.readableLength === 0 && !req.isPaused();
}

/** A request without a body (and a local redirect's GET): a stream that ends at once. */
export function noBody(): ReceivedBody {
  const body = new Readable({ read: () => body.push(null) });
  return { ok: true, body, length: undefined };
}

/**
 * A script that left part of the body unread (it had no use for it): the rest is read and
 * discarded, bounded by --max-body, or the next request on this connection would never be parsed.
 * A 'data' listener, not just resume(): resume() does nothing while a reader that stopped early
 * (a handler's async iterator over stdin) still listens for 'readable'; once it lets go, 'data' flows.
 */
export function drainUnreadBody(req: IncomingMessage, body: Readable): void {
  if (body !== req || req.readableEnded) return;
  req.unpipe();
  req.on('data', () => {});
  req.resume();
}
