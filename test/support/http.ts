/**
 * HTTP as a client speaks it, for tests: a raw request over a socket (for paths a client
 * library would tidy up, and to see exactly what came back), and process liveness checks.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Every byte received, for a connection that carried more than one response. */
  raw: Buffer;
  /** False when the server closed the connection before the response was complete. */
  complete: boolean;
}

/**
 * Sends `request` verbatim and reads until the server closes (Connection: close is added).
 * `readAfterMs` makes a slow client: nothing is read until then, so every buffer on the way fills.
 */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 15_000, readAfterMs = 0): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs}ms`));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks)));
    });
    socket.write(request);
    if (readAfterMs > 0) {
      socket.pause();
      setTimeout(() => socket.resume(), readAfterMs);
    }
  });
}

export function get(path: string, headers: Record<string, string> = {}): string {
  const fields = Object.entries({ Host: '127.0.0.1', Connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  return `GET ${path} HTTP/1.1\r\n${fields.join('')}\r\n`;
}

function parse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4);
  let complete = true;
  if (headers['transfer-encoding'] === 'chunked') ({ body, complete } = dechunk(body));
  else if (headers['content-length']) complete = body.length === Number(headers['content-length']);
  return { status: Number(statusLine.split(' ')[1]), head, headers, body, raw, complete };
}

function dechunk(data: Buffer): { body: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(data.subarray(at, eol).toString(), 16);
    if (size === 0) return { body: Buffer.concat(parts), complete: true };
    if (eol + 2 + size > data.length) return { body: Buffer.concat([...parts, data.subarray(eol + 2)]), complete: false };
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `check` holds, failing after `ms` (a bound on a wait, never a timing assertion). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${ms}ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
