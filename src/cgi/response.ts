/**
 * What a CGI script prints (RFC 3875 §6): the header block up to the blank line, read from the
 * script's stdout, and the HTTP response it asks for — a document (§6.2.1), a local redirect the
 * server re-dispatches (§6.2.2), or a client redirect with or without a document (§6.2.3,
 * §6.2.4). The body stays in the stream, untouched, to be streamed to the client.
 *
 * Not supported: continuation lines. §6.3 says CGI/1.1 has none and HTTP has deprecated them
 * (RFC 9112 §5.2), so a header line that starts with a space or tab is an error. NPH scripts
 * (§5) write the whole HTTP response themselves and do not come here.
 */
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';

/** The script's output breaks §6. The message goes to the error log; the client gets a 502. */
export class CgiOutputError extends Error {
  override name = 'CgiOutputError';
}

export interface CgiHead {
  /** In the order printed, names as written. */
  fields: Array<[name: string, value: string]>;
}

/**
 * What the server sends. `contentLength`, when the script declared one, frames the body on a
 * kept-alive connection: the server sends exactly that many bytes and ends the response there.
 */
export type ResponsePlan =
  | { kind: 'document'; status: number; reason: string; headers: Array<[string, string]>; contentLength?: number }
  | { kind: 'local-redirect'; location: string }
  | { kind: 'client-redirect'; status: number; reason: string; headers: Array<[string, string]>; contentLength?: number };

/** An HTTP token (RFC 9110 §5.6.2): what a field name must be (§6.3: field-name = token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters other than tab, which no field value may hold (RFC 9110 §5.5). */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const noBytes = Buffer.alloc(0);
/** How much of the output to keep for quoting in an error. */
const OPENING_BYTES = 240;

/**
 * Reads the header block: lines ended by CRLF or LF, in any mix (§6.3: NL), up to the first
 * blank line. The bytes after it are put back with unshift, so the stream then yields exactly
 * the body. Chunks are bytes, or strings taken as UTF-8 (an object-mode stream of strings).
 * At most one line of maxLine bytes is held beyond what has been parsed, so a script that never
 * ends its headers cannot make the server buffer without bound. On rejection the stream is left
 * as it is: the caller ends the script and destroys the stream.
 */
export function readCgiHead(stdout: Readable, limits: { maxLine?: number; maxHead?: number } = {}): Promise<CgiHead> {
  const parser = headParser(limits.maxLine ?? 8192, limits.maxHead ?? 64 * 1024);
  let opening: Buffer = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const finish = (outcome: Error | Buffer) => {
      stdout.off('readable', onReadable).off('end', onEnd).off('close', onEnd).off('error', onError);
      if (outcome instanceof Error) return reject(outcome);
      if (outcome.length > 0) stdout.unshift(outcome);
      resolve({ fields: parser.fields });
    };
    function onReadable() {
      for (let read: Buffer | string | null; (read = stdout.read()) !== null; ) {
        const chunk = typeof read === 'string' ? Buffer.from(read) : read;
        // Kept for quoting in an error; the first chunk (usually all there is) is not copied.
        if (opening.length === 0) opening = chunk.subarray(0, OPENING_BYTES);
        else if (opening.length < OPENING_BYTES) opening = Buffer.concat([opening, chunk.subarray(0, OPENING_BYTES - opening.length)]);
        let body: Buffer | undefined;
        try {
          body = parser.feed(chunk);
        } catch (error) {
          return finish(error as CgiOutputError);
        }
        if (body) return finish(body);
      }
    }
    function onEnd() {
      const seen = opening.length > 0 ? `its output began ${quote(opening.toString('utf8'))}` : 'it printed nothing';
      finish(new CgiOutputError(`the script's output ended before the blank line that ends its headers; ${seen}`));
    }
    function onError(error: Error) {
      finish(new CgiOutputError(`reading the script's output failed: ${error.message}`, { cause: error }));
    }
    if (stdout.errored) return onError(stdout.errored);
    if (stdout.readableEnded || stdout.destroyed) return onEnd();
    stdout.on('readable', onReadable).on('end', onEnd).on('close', onEnd).on('error', onError);
  });
}

/**
 * The response for an output already in hand, whole: its plan and its body; undefined when it is
 * not a valid CGI response (the caller then reads it as a stream, where the error is worded). The
 * rules are readCgiHead's and planResponse's. Most scripts print the same head for every request,
 * and a plan depends on nothing but the head's bytes, so each head is planned once; the memory is
 * bounded, since a head can carry per-request values (a cookie, a Location).
 */
export function planWholeOutput(output: Buffer): (PlannedHead & { body: Buffer }) | undefined {
  const end = headEnd(output);
  if (end === -1) return undefined;
  const text = output.toString('latin1', 0, end);
  let planned = plannedHeads.get(text);
  if (planned === undefined) {
    let plan: ResponsePlan;
    const parser = headParser(8192, 64 * 1024);
    try {
      const body = parser.feed(output);
      // The blank line the parser found is the one headEnd found, or this is no head to remember.
      if (body === undefined || output.length - body.length !== end) return undefined;
      plan = planResponse({ fields: parser.fields });
    } catch (error) {
      if (error instanceof CgiOutputError) return undefined;
      throw error;
    }
    planned = { plan, headerLines: plan.kind === 'local-redirect' ? [] : plan.headers.flat() };
    if (plannedHeads.size >= 256) plannedHeads.clear();
    plannedHeads.set(text, planned);
  }
  return { ...planned, body: output.subarray(end) };
}

/** A head planned once: its plan, and its header fields as writeHead takes them (name, value, ...). */
interface PlannedHead {
  plan: ResponsePlan;
  /** Shared by every response with this head: node's writeHead only reads it. */
  headerLines: string[];
}
const plannedHeads = new Map<string, PlannedHead>();

/**
 * Where the body starts: just past the first empty line (LF, or CR LF, at the start or after a
 * LF); -1 if none. It hops from LF to LF with a byte needle: Buffer.indexOf with a string needle
 * encodes the needle on every call, a third of a microsecond each, twice per request.
 */
function headEnd(output: Buffer): number {
  if (output[0] === 0x0a) return 1;
  if (output[0] === 0x0d && output[1] === 0x0a) return 2;
  for (let lf = output.indexOf(0x0a); lf !== -1; lf = output.indexOf(0x0a, lf + 1)) {
    const next = output[lf + 1];
    if (next === 0x0a) return lf + 2;
    if (next === 0x0d && output[lf + 2] === 0x0a) return lf + 3;
  }
  return -1;
}

/** Splits bytes into header lines; feed returns the bytes after the blank line once it is seen. */
function headParser(maxLine: number, maxHead: number) {
  const fields: CgiHead['fields'] = [];
  let partial: Buffer = noBytes; // a line whose end has not arrived yet
  let headBytes = 0; // complete lines so far, line ends included
  const feed = (chunk: Buffer): Buffer | undefined => {
    const data = partial.length > 0 ? Buffer.concat([partial, chunk]) : chunk;
    let start = 0;
    for (let lf: number; (lf = data.indexOf(0x0a, start)) !== -1; start = lf + 1) {
      const end = lf > start && data[lf - 1] === 0x0d ? lf - 1 : lf;
      checkLength(end - start, data.subarray(start, end));
      headBytes += lf + 1 - start;
      if (headBytes > maxHead) throw tooLong();
      if (end === start) return data.subarray(lf + 1);
      // latin1 maps each byte to one character, as node writes header values back out.
      fields.push(parseField(data.toString('latin1', start, end), fields.length + 1));
    }
    partial = data.subarray(start);
    // A CR at the end may be the first half of a CRLF whose LF is still to come.
    checkLength(partial.at(-1) === 0x0d ? partial.length - 1 : partial.length, partial);
    if (headBytes + partial.length > maxHead) throw tooLong();
    return undefined;
  };
  const checkLength = (length: number, line: Buffer) => {
    if (length <= maxLine) return;
    const text = quote(line.toString('latin1', 0, 61));
    throw new CgiOutputError(`header line ${fields.length + 1} is longer than ${maxLine} bytes: ${text}`);
  };
  const tooLong = () => new CgiOutputError(`the script's headers run past ${maxHead} bytes without the blank line that ends them`);
  return { fields, feed };
}

/** One `Name: value` line (§6.3: generic-field), or the reason it is not one. */
function parseField(line: string, number: number): [string, string] {
  const malformed = (what: string) => new CgiOutputError(`header line ${number} ${what}: ${quote(line)}`);
  if (line.startsWith(' ') || line.startsWith('\t')) {
    throw malformed('starts with whitespace, a continuation line, which CGI/1.1 does not allow');
  }
  const colon = line.indexOf(':');
  if (colon === -1) throw malformed('has no colon');
  const name = line.slice(0, colon);
  if (name === '') throw malformed('has no field name before its colon');
  // §6.3 allows no whitespace between the name and the colon.
  if (!TOKEN.test(name)) throw malformed(`has an invalid field name ${quote(name)}`);
  const value = trimBlanks(line, colon + 1);
  if (CONTROL.test(value)) throw malformed('has a control character in its value');
  return [name, value];
}

/** line[from..] without the spaces and tabs around it (§6.3: OWS); by hand, as every line passes here. */
function trimBlanks(line: string, from: number): string {
  let start = from;
  let end = line.length;
  while (start < end && (line.charCodeAt(start) === 0x20 || line.charCodeAt(start) === 0x09)) start++;
  while (end > start && (line.charCodeAt(end - 1) === 0x20 || line.charCodeAt(end - 1) === 0x09)) end--;
  return line.slice(start, end);
}

/** Up to 60 characters, JSON-quoted, with DEL and C1 controls escaped too: safe for a log. */
function quote(text: string): string {
  const quoted = JSON.stringify(text.slice(0, 60)).replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > 60 ? `${quoted}...` : quoted;
}

/**
 * Fields about the connection, which the server owns (RFC 9110 §7.6.1). node frames the body
 * (Content-Length or chunked) and decides keep-alive itself: a script's Transfer-Encoding:
 * chunked over a body it did not chunk would corrupt the response, and its Connection or
 * Keep-Alive would contradict what the server does with the connection.
 */
const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade']);

/** The three CGI fields (§6.3), each allowed once. */
const CGI_FIELDS = ['content-type', 'location', 'status'] as const;
type CgiField = (typeof CGI_FIELDS)[number];

/** Decides what the server sends for a script's header block (§6.2). */
export function planResponse(head: CgiHead): ResponsePlan {
  const cgi = new Map<CgiField, string>();
  const headers: Array<[string, string]> = [];
  let contentLength: number | undefined;
  for (const [name, value] of head.fields) {
    if (value === '') continue; // §6.3: "A NULL field value is equivalent to a field not being sent."
    const lower = name.toLowerCase();
    const cgiField = CGI_FIELDS.find((field) => field === lower);
    if (cgiField !== undefined) {
      if (cgi.has(cgiField)) {
        throw new CgiOutputError(`the script printed ${name} twice; §6.3 allows each of Content-Type, Location and Status once`);
      }
      cgi.set(cgiField, value);
    }
    if (lower === 'content-length') {
      const length = parseContentLength(value);
      if (contentLength !== undefined) {
        // RFC 9112 §6.3: differing lengths cannot frame a message, and passed on they would let
        // a proxy in front and the client each believe a different one (response splitting).
        if (length !== contentLength) {
          throw new CgiOutputError(`the script printed two different Content-Length values (${contentLength} and ${length}): the response cannot be framed`);
        }
        continue; // the same length again (RFC 9110 §8.6 allows it): sent once
      }
      contentLength = length;
    }
    if (lower !== 'status' && !CONNECTION_FIELDS.has(lower)) headers.push([name, value]);
  }
  const statusField = cgi.get('status');
  const status = statusField === undefined ? undefined : parseStatus(statusField);
  const location = cgi.get('location');
  if (location !== undefined) {
    // §6.2.2: a local path and nothing else means the server fetches it itself. Other fields
    // and the body are ignored, as Apache ignores them. With a Status the script wants the
    // client redirected to it; a relative Location is valid HTTP (RFC 9110 §10.2.2).
    const local = location.startsWith('/') && !location.startsWith('//');
    if (local && status === undefined) return { kind: 'local-redirect', location };
    // §6.2.3, §6.2.4: an absolute URI starts with its scheme (RFC 3986 §3.1).
    if (local || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(location)) {
      return { kind: 'client-redirect', ...(status ?? { status: 302, reason: 'Found' }), headers, ...framing(contentLength) };
    }
    throw new CgiOutputError(`Location ${quote(location)} is neither a local path (one "/", then a path) nor an absolute URI (§6.3.2)`);
  }
  // §6.2.1 wants a Content-Type, and §6.3.1 wants one whenever there is a body. A Status alone
  // is allowed, for responses without a body, such as 204 No Content and 304 Not Modified.
  if (!cgi.has('content-type') && status === undefined) {
    throw new CgiOutputError('the script printed no Content-Type, Location or Status header');
  }
  return { kind: 'document', ...(status ?? { status: 200, reason: 'OK' }), headers, ...framing(contentLength) };
}

const framing = (contentLength: number | undefined) => (contentLength === undefined ? {} : { contentLength });

/**
 * A script's Content-Length (RFC 9110 §8.6: 1*DIGIT). One the server cannot trust would frame
 * the response wrongly on a kept-alive connection, so it is a bad response, not a hint.
 */
function parseContentLength(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new CgiOutputError(`the script printed an invalid Content-Length: ${quote(value)}`);
  return Number(value);
}

/**
 * §6.3.3: `Status: 404 Not Found`; the reason phrase may be left out. 1xx codes are refused: they
 * are informational, never the final response (RFC 9110 §15.2), and a client given one would
 * wait for a response that never comes.
 */
function parseStatus(value: string): { status: number; reason: string } {
  const match = /^([2-5][0-9][0-9])(?:[ \t]+(.*))?$/.exec(value);
  if (match?.[1] === undefined) {
    throw new CgiOutputError(`Status ${quote(value)} is not a final status: a code from 200 to 599, then an optional reason (§6.3.3)`);
  }
  const status = Number(match[1]);
  return { status, reason: match[2] || (STATUS_CODES[status] ?? '') };
}
