/**
 * The request body a script receives. RFC 3875 §4.1.2 gives a script CONTENT_LENGTH, so a
 * chunked body (which has none) is read in full, up to --max-body, and then handed over with
 * its length; a body with a Content-Length streams straight through.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export type RequestBody =
  | { ok: true; body: Readable; length: number | undefined }
  | { ok: false; status: 413; message: string };

export async function takeBody(req: IncomingMessage, maxBody: number): Promise<RequestBody> {
  const tooLarge = { ok: false, status: 413, message: `request body larger than --max-body (${maxBody} bytes)` } as const;
  if (req.headers['transfer-encoding']) {
    // node:http has already removed the chunked framing; we only bound and count.
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > maxBody) return tooLarge;
      chunks.push(chunk);
    }
    return { ok: true, body: Readable.from(chunks), length: length || undefined };
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBody) return tooLarge;
  if (declared > 0) return { ok: true, body: req, length: declared };
  return noBody();
}

/** A request without a body (and a local redirect's GET): a stream that ends at once. */
export function noBody(): RequestBody {
  const body = new Readable({ read: () => body.push(null) });
  return { ok: true, body, length: undefined };
}
