/**
 * The request body a script receives. RFC 3875 §4.1.2 gives a script CONTENT_LENGTH, so a
 * chunked body (which has none) is read in full, up to --max-body, and then handed over with
 * its length; a body with a Content-Length streams straight through.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export type RequestBody =
  | { ok: true; body: Readable; length: number | undefined }
  | { ok: false; status: 400 | 413; message: string };

export async function takeBody(req: IncomingMessage, maxBody: number): Promise<RequestBody> {
  const tooLarge = { ok: false, status: 413, message: `request body larger than --max-body (${maxBody} bytes)` } as const;
  if (req.headers['transfer-encoding']) return collect(req, maxBody, tooLarge);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBody) return tooLarge;
  if (declared > 0) return { ok: true, body: req, length: declared };
  return noBody();
}

/**
 * Reads a chunked body (node:http has removed the framing; we bound and count). Past the limit
 * it stops keeping what arrives but goes on reading it, so the request stays whole and the 413
 * can be sent; the answer says Connection: close, which ends the rest.
 */
function collect(req: IncomingMessage, maxBody: number, tooLarge: RequestBody): Promise<RequestBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length <= maxBody) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd);
      req.resume();
      resolve(tooLarge);
    };
    const onEnd = () => resolve({ ok: true, body: Readable.from(chunks), length: length || undefined });
    req.on('data', onData).once('end', onEnd);
    req.once('error', () => resolve({ ok: false, status: 400, message: 'the request body was cut off' }));
  });
}

/** A request without a body (and a local redirect's GET): a stream that ends at once. */
export function noBody(): RequestBody {
  const body = new Readable({ read: () => body.push(null) });
  return { ok: true, body, length: undefined };
}
