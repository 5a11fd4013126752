/**
 * The lesson checker's HTTP client: it writes requests as bytes on a raw TCP socket and reads
 * the bytes that come back, so a learner sees exactly what travelled (RFC 9112: request line,
 * header fields, an empty line, the body). Responses are parsed here too — status line, fields,
 * a body framed by Content-Length, chunked coding or the connection's end (RFC 9112 §6.3).
 */
import { connect } from 'node:net';

export interface Request {
  method?: string;
  /** The request target, e.g. /cgi-bin/greet.sh?name=Ada */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface Response {
  /** The method it answers: a response to HEAD has no body whatever its headers say. */
  status: number;
  reason: string;
  httpVersion: string;
  /** Field names lower-cased, values in arrival order. */
  headers: Record<string, string[]>;
  body: Buffer;
  /** The body as UTF-8 text. */
  text: string;
}

/** One arrival on the socket and when it came, in ms after the request was written. */
export interface Arrival {
  atMs: number;
  bytes: Buffer;
}

export interface Exchange {
  sent: Buffer;
  received: Buffer;
  arrivals: Arrival[];
  /** Why reading stopped: the peer closed, every expected response arrived, or time ran out. */
  ended: 'closed' | 'complete' | 'timeout' | 'error';
  error?: string;
}

/** The request as bytes, with the fields a well-behaved client sends (Host is required, RFC 9112 §3.2). */
export function encodeRequest(host: string, request: Request, keepAlive = false): Buffer {
  const method = request.method ?? 'GET';
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const fields: Record<string, string> = { Host: host, 'User-Agent': 'webhist-learn', ...request.headers };
  if (!keepAlive && !hasField(fields, 'connection')) fields.Connection = 'close';
  if (body && !hasField(fields, 'content-length')) fields['Content-Length'] = String(body.length);
  const head = `${method} ${request.path} HTTP/1.1\r\n${Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

function hasField(fields: Record<string, string>, name: string): boolean {
  return Object.keys(fields).some((k) => k.toLowerCase() === name);
}

/** The same request as a curl command a learner can paste. */
export function curlCommand(base: string, request: Request): string {
  const method = request.method ?? 'GET';
  const parts = ['curl', method === 'HEAD' ? '-I' : '-i'];
  if (method !== 'GET' && method !== 'HEAD' && !(method === 'POST' && request.body !== undefined)) parts.push('-X', method);
  for (const [k, v] of Object.entries(request.headers ?? {})) parts.push('-H', quote(`${k}: ${v}`));
  if (request.body !== undefined) parts.push('--data-binary', quote(Buffer.from(request.body).toString('utf8')));
  parts.push(quote(`${base.replace(/\/$/, '')}${request.path}`));
  return parts.join(' ');
}

function quote(text: string): string {
  if (/^[\w./:=%@+,-]+$/.test(text)) return text;
  if (!/[\r\n]/.test(text)) return `'${text.replaceAll("'", `'\\''`)}'`;
  // CR and LF cannot be typed inside '…'; bash's $'…' spells them.
  return `$'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\r', '\\r').replaceAll('\n', '\\n')}'`;
}

/**
 * Writes `bytes` to host:port and collects what comes back until the server closes, until
 * `complete(received)` says enough has arrived, or until `timeoutMs`. Never throws: a refused
 * connection or a timeout is part of the exchange, for the check to judge and the learner to see.
 */
export function exchange(
  port: number,
  bytes: Buffer | Buffer[],
  options: { timeoutMs?: number; complete?: (received: Buffer) => boolean; gapMs?: number } = {},
): Promise<Exchange> {
  const writes = Array.isArray(bytes) ? bytes : [bytes];
  return new Promise((resolve) => {
    const arrivals: Arrival[] = [];
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ended: Exchange['ended'], error?: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ sent: Buffer.concat(writes), received: Buffer.concat(arrivals.map((a) => a.bytes)), arrivals, ended, error });
    };
    const timer = setTimeout(() => finish('timeout'), options.timeoutMs ?? 10_000);
    socket.setNoDelay(true);
    socket.on('connect', async () => {
      for (const [i, chunk] of writes.entries()) {
        if (i > 0 && options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
        if (!socket.destroyed) socket.write(chunk);
      }
    });
    socket.on('data', (chunk) => {
      arrivals.push({ atMs: performance.now() - started, bytes: chunk });
      if (options.complete?.(Buffer.concat(arrivals.map((a) => a.bytes)))) finish('complete');
    });
    socket.on('end', () => finish('closed'));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish('error', error.code === 'ECONNREFUSED' ? 'the connection was refused (is the server running?)' : error.message),
    );
  });
}

export class ParseError extends Error {
  override name = 'ParseError';
}

/**
 * Parses consecutive responses from `bytes`, one per method in `methods` (the requests they
 * answer). A response still incomplete at the end of the bytes ends the list.
 */
export function parseResponses(bytes: Buffer, methods: string[], closed = true): Response[] {
  const responses: Response[] = [];
  let at = 0;
  for (const method of methods) {
    const parsed = parseOne(bytes, at, method, closed);
    if (!parsed) break;
    responses.push(parsed.response);
    at = parsed.end;
  }
  return responses;
}

function parseOne(bytes: Buffer, start: number, method: string, closed: boolean): { response: Response; end: number } | undefined {
  const headEnd = bytes.indexOf('\r\n\r\n', start);
  if (headEnd < 0) {
    if (closed && bytes.length > start) throw new ParseError(`the response's head never ended: no empty line (\\r\\n\\r\\n) after the header fields`);
    return undefined;
  }
  const [statusLine = '', ...lines] = bytes.subarray(start, headEnd).toString('latin1').split('\r\n');
  const match = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) throw new ParseError(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon < 1) throw new ParseError(`not a header field: ${JSON.stringify(line)}`);
    (headers[line.slice(0, colon).trim().toLowerCase()] ??= []).push(line.slice(colon + 1).trim());
  }
  const status = Number(match[2]);
  const bodyStart = headEnd + 4;
  const noBody = method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
  let body: Buffer;
  let end: number;
  if (noBody) {
    body = Buffer.alloc(0);
    end = bodyStart;
  } else if (headers['transfer-encoding']?.some((v) => /chunked/i.test(v))) {
    const decoded = decodeChunked(bytes, bodyStart);
    if (!decoded) return undefined;
    ({ body, end } = decoded);
  } else if (headers['content-length']) {
    const length = Number(headers['content-length'][0]);
    if (bytes.length < bodyStart + length) return undefined;
    body = bytes.subarray(bodyStart, bodyStart + length);
    end = bodyStart + length;
  } else {
    if (!closed) return undefined;
    body = bytes.subarray(bodyStart);
    end = bytes.length;
  }
  const response = { httpVersion: match[1]!, status, reason: match[3] ?? '', headers, body, text: body.toString('utf8') };
  return { response, end };
}

/** RFC 9112 §7.1: hex size, CRLF, data, CRLF, … a zero size, trailers, CRLF. */
function decodeChunked(bytes: Buffer, start: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) throw new ParseError('a chunk size that is not hexadecimal');
    at = lineEnd + 2;
    if (size === 0) {
      const trailerEnd = bytes.indexOf('\r\n\r\n', at - 2);
      if (trailerEnd < 0) return undefined;
      return { body: Buffer.concat(parts), end: trailerEnd + 4 };
    }
    if (bytes.length < at + size + 2) return undefined;
    parts.push(bytes.subarray(at, at + size));
    at += size + 2;
  }
}

/** Bytes as a learner reads them: CR and LF spelled out, other control bytes as \xNN, long runs cut. */
export function showBytes(bytes: Buffer, limit = 1200): string {
  const text = bytes.subarray(0, limit).toString('utf8');
  const shown = text
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/\r\n|\r|\n/g, (eol) => `${eol === '\r\n' ? '\\r\\n' : eol === '\r' ? '\\r' : '\\n'}\n`);
  const more = bytes.length > limit ? `\n… ${bytes.length - limit} more bytes` : '';
  return (shown.endsWith('\n') ? shown.slice(0, -1) : shown) + more;
}
