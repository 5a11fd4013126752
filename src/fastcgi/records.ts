/**
 * FastCGI records (§3.3): the 8-byte header, content and padding; streams split into records
 * of at most 65535 bytes and closed by an empty one; the three fixed-size bodies
 * (FCGI_BeginRequestBody §5.1, FCGI_EndRequestBody §5.5, FCGI_UnknownTypeBody §4.2); and an
 * incremental parser that turns bytes, cut anywhere, back into records.
 */
import { FCGI_VERSION_1, FastCgiError, HEADER_LENGTH, MAX_CONTENT_LENGTH, MAX_PADDING_LENGTH, type ProtocolStatus } from './protocol.ts';

export interface FcgiRecord {
  /** A RecordType, or any other byte a peer sent. */
  type: number;
  requestId: number;
  content: Buffer;
  /** Bytes of padding after the content: -length & 7 when we send, 0-255 when we receive. */
  paddingLength: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * A record ready to encode. Padding defaults to what Go and libfcgi send, enough to end the
 * record on a multiple of 8 bytes (§3.3 recommends it); any 0-255 may be given.
 */
export function record(type: number, requestId: number, content: Buffer = EMPTY, paddingLength = -content.length & 7): FcgiRecord {
  if (content.length > MAX_CONTENT_LENGTH) throw new RangeError(`fastcgi: record content of ${content.length} bytes exceeds ${MAX_CONTENT_LENGTH}`);
  if (!Number.isInteger(requestId) || requestId < 0 || requestId > 0xffff) throw new RangeError(`fastcgi: request id ${requestId} is not a 16-bit number`);
  if (!Number.isInteger(paddingLength) || paddingLength < 0 || paddingLength > MAX_PADDING_LENGTH)
    throw new RangeError(`fastcgi: padding length ${paddingLength} is not 0-255`);
  return { type, requestId, content, paddingLength };
}

/**
 * The records that carry `data` on a stream (§3.3): 65535-byte pieces, then, unless `end` is
 * false, the empty record that closes the stream.
 */
export function streamRecords(type: number, requestId: number, data: Buffer, end = true): FcgiRecord[] {
  const records: FcgiRecord[] = [];
  for (let at = 0; at < data.length; at += MAX_CONTENT_LENGTH) records.push(record(type, requestId, data.subarray(at, at + MAX_CONTENT_LENGTH)));
  if (end) records.push(record(type, requestId));
  return records;
}

/** Encodes records into one buffer, so a record group leaves in a single write. */
export function encodeRecords(records: readonly FcgiRecord[]): Buffer {
  let size = 0;
  for (const r of records) size += HEADER_LENGTH + r.content.length + r.paddingLength;
  // From Node's pool for a small group (most are), not a fresh zeroed allocation; the reserved
  // byte and the padding are zeroed here, so no byte of old memory goes out.
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const r of records) {
    const length = r.content.length;
    out[at] = FCGI_VERSION_1;
    out[at + 1] = r.type;
    out.writeUInt16BE(r.requestId, at + 2);
    out.writeUInt16BE(length, at + 4);
    out[at + 6] = r.paddingLength;
    out[at + 7] = 0;
    if (length > 0) r.content.copy(out, at + HEADER_LENGTH);
    at += HEADER_LENGTH + length;
    if (r.paddingLength > 0) out.fill(0, at, at + r.paddingLength);
    at += r.paddingLength;
  }
  return out;
}

/** FCGI_BeginRequestBody (§5.1): role(2) flags(1) reserved(5). */
export function encodeBeginRequestBody(role: number, flags: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(role, 0);
  body[2] = flags;
  return body;
}

export function decodeBeginRequestBody(content: Buffer): { role: number; flags: number } {
  if (content.length !== 8) throw new FastCgiError(`fastcgi: BEGIN_REQUEST body is ${content.length} bytes, want 8`);
  return { role: content.readUInt16BE(0), flags: content[2]! };
}

const COMPLETE_WITH_0 = Buffer.alloc(8);

/** FCGI_EndRequestBody (§5.5): appStatus(4) protocolStatus(1) reserved(3). */
export function encodeEndRequestBody(appStatus: number, protocolStatus: ProtocolStatus): Buffer {
  if (appStatus === 0 && protocolStatus === 0) return COMPLETE_WITH_0; // the usual end: shared, as records are copied when sent
  const body = Buffer.alloc(8);
  body.writeUInt32BE(appStatus >>> 0, 0); // an exit status of -1 travels as 0xffffffff
  body[4] = protocolStatus;
  return body;
}

export function decodeEndRequestBody(content: Buffer): { appStatus: number; protocolStatus: number } {
  if (content.length !== 8) throw new FastCgiError(`fastcgi: END_REQUEST body is ${content.length} bytes, want 8`);
  return { appStatus: content.readUInt32BE(0), protocolStatus: content[4]! };
}

/** FCGI_UnknownTypeBody (§4.2): the type the application did not understand, 7 reserved. */
export function encodeUnknownTypeBody(type: number): Buffer {
  const body = Buffer.alloc(8);
  body[0] = type;
  return body;
}

export function decodeUnknownTypeBody(content: Buffer): { type: number } {
  if (content.length !== 8) throw new FastCgiError(`fastcgi: UNKNOWN_TYPE body is ${content.length} bytes, want 8`);
  return { type: content[0]! };
}

/**
 * Turns a byte stream back into records, whatever the chunking. Memory is bounded by one
 * record (8 + 65535 bytes; padding is skipped, never stored), and the only thing it throws is
 * a FastCgiError, after which it refuses further input: a peer that sent one bad header
 * cannot be resynchronised, since nothing marks where the next record starts.
 *
 * A plain loop with a callback, not a generator: both sides parse every chunk of every request
 * through it, and a generator's object and resumptions per chunk were measurable (issue 13).
 * A record that lies whole inside the chunk is handed on as a view of it, not a copy.
 */
export class RecordParser {
  #header: Buffer | undefined; // made for a header cut across chunks, which few connections see
  #headerFilled = 0;
  #content: Buffer | undefined; // allocated once its header is read, for a record cut across chunks
  #contentFilled = 0;
  #paddingLeft = 0;
  #type = 0;
  #requestId = 0;
  #paddingLength = 0;
  #failure: FastCgiError | undefined;

  /**
   * Feeds bytes in; calls `onRecord` with each record they complete, in order, as it completes.
   * Where the bytes stop being FastCGI it throws, after the records before that point: a worker
   * that answered a query, then wrote garbage, still gets its answer heard.
   */
  feed(chunk: Uint8Array, onRecord: (record: FcgiRecord) => void): void {
    if (this.#failure) throw this.#failure;
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let at = 0;
    while (at < bytes.length) {
      if (this.#content === undefined) {
        if (this.#headerFilled === 0 && bytes.length - at >= HEADER_LENGTH) {
          // The usual case: a whole header, and often the whole record, in this chunk.
          this.#startRecord(bytes, at);
          at += HEADER_LENGTH;
          const length = bytes.readUInt16BE(at - 4);
          if (bytes.length - at >= length + this.#paddingLength) {
            const content = length === 0 ? EMPTY : bytes.subarray(at, at + length); // a stream's end costs no view
            at += length + this.#paddingLength;
            onRecord({ type: this.#type, requestId: this.#requestId, content, paddingLength: this.#paddingLength });
            continue;
          }
          this.#content = Buffer.allocUnsafe(length);
          this.#contentFilled = 0;
          this.#paddingLeft = this.#paddingLength;
        } else {
          const n = Math.min(HEADER_LENGTH - this.#headerFilled, bytes.length - at);
          this.#header ??= Buffer.alloc(HEADER_LENGTH);
          bytes.copy(this.#header, this.#headerFilled, at, at + n);
          this.#headerFilled += n;
          at += n;
          if (this.#headerFilled < HEADER_LENGTH) continue;
          this.#startRecord(this.#header, 0);
          this.#content = Buffer.allocUnsafe(this.#header.readUInt16BE(4));
          this.#contentFilled = 0;
          this.#paddingLeft = this.#paddingLength;
        }
      } else if (this.#contentFilled < this.#content.length) {
        const n = Math.min(this.#content.length - this.#contentFilled, bytes.length - at);
        bytes.copy(this.#content, this.#contentFilled, at, at + n);
        this.#contentFilled += n;
        at += n;
      } else {
        const n = Math.min(this.#paddingLeft, bytes.length - at);
        this.#paddingLeft -= n;
        at += n;
      }
      if (this.#content !== undefined && this.#contentFilled === this.#content.length && this.#paddingLeft === 0) {
        const content = this.#content;
        this.#content = undefined;
        this.#headerFilled = 0;
        onRecord({ type: this.#type, requestId: this.#requestId, content, paddingLength: this.#paddingLength });
      }
    }
  }

  /** feed(), as a list: the records one chunk completes, then the error if the bytes went bad. */
  *push(chunk: Uint8Array): Generator<FcgiRecord, void, undefined> {
    const records: FcgiRecord[] = [];
    let failure: unknown;
    try {
      this.feed(chunk, (r) => records.push(r));
    } catch (error) {
      failure = error;
    }
    yield* records;
    if (failure) throw failure;
  }

  /** Called when the peer closes: throws if it closed in the middle of a record. */
  end(): void {
    if (this.#failure) throw this.#failure;
    if (this.#headerFilled > 0 || this.#content !== undefined) throw new FastCgiError('fastcgi: connection closed in the middle of a record');
  }

  /** Reads a header at `at` of `h`; a wrong version fails the parser for good. */
  #startRecord(h: Buffer, at: number): void {
    if (h[at] !== FCGI_VERSION_1) {
      // An HTTP request sent to a FastCGI port is the usual cause: 'G' of GET is 71.
      this.#failure = new FastCgiError(`fastcgi: record version ${h[at]}, want ${FCGI_VERSION_1} (is the peer speaking FastCGI?)`);
      throw this.#failure;
    }
    this.#type = h[at + 1]!;
    this.#requestId = h.readUInt16BE(at + 2);
    this.#paddingLength = h[at + 6]!;
  }
}
