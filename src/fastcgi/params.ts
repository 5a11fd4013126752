/**
 * FastCGI name-value pairs (§3.4): each pair is the name's length, the value's length, the
 * name, the value. A length up to 127 takes one byte; a longer one takes four, big-endian,
 * with the top bit set. They fill the FCGI_PARAMS stream (§5.2) and the FCGI_GET_VALUES and
 * FCGI_GET_VALUES_RESULT records (§4.1).
 *
 * Names and values are bytes on the wire; here they are UTF-8 strings, the encoding Node uses
 * when it hands a CGI program its environment, so every mode gives a script the same bytes.
 */
import { isAscii } from 'node:buffer';
import { FastCgiError } from './protocol.ts';

export type Pair = readonly [name: string, value: string];

/** A length takes 31 bits at most (§3.4). */
const MAX_LENGTH = 0x7fffffff;

/** The default bound on one request's PARAMS stream; nginx's own buffers are far smaller. */
export const DEFAULT_MAX_PARAMS_BYTES = 1024 * 1024;

/**
 * Encodes pairs into one buffer; streamRecords() splits it into PARAMS records. A request's
 * environment is nearly always ASCII: then the whole stream is built as one string, a character
 * per byte, and encoded in one call (measured: a third of the time of a byte count and a write
 * per name and value, which the general path still does for the rest).
 */
export function encodeParams(pairs: Iterable<Pair> | Record<string, string>): Buffer {
  const list = Array.isArray(pairs) ? (pairs as readonly Pair[]) : Symbol.iterator in pairs ? [...pairs] : undefined;
  if (list)
    return (
      encodeAscii(
        list.length,
        (i) => list[i]![0],
        (i) => list[i]![1],
      ) ?? encodeAny(list)
    );
  const record = pairs as Record<string, string>;
  const names = Object.keys(record);
  return (
    encodeAscii(
      names.length,
      (i) => names[i]!,
      (i) => record[names[i]!]!,
    ) ?? encodeAny(Object.entries(record))
  );
}

/**
 * The fast path: each length as the characters of its bytes (§3.4), then the name and value;
 * encoded as latin1, one byte per character. Undefined where a name or value is not ASCII, which
 * latin1 would not encode as UTF-8: a length byte of 0x80 or more is two bytes in UTF-8, and is
 * counted, so one byte count of the whole says whether anything else is.
 */
function encodeAscii(count: number, nameAt: (i: number) => string, valueAt: (i: number) => string): Buffer | undefined {
  let text = '';
  let highBytes = 0;
  for (let i = 0; i < count; i++) {
    const name = nameAt(i);
    const value = valueAt(i);
    for (const length of [name.length, value.length]) {
      if (length <= 127) text += String.fromCharCode(length);
      else {
        const bytes = [(length >>> 24) | 0x80, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff];
        for (const byte of bytes) if (byte >= 0x80) highBytes++;
        text += String.fromCharCode(...bytes);
      }
    }
    text += name + value;
  }
  if (Buffer.byteLength(text, 'utf8') !== text.length + highBytes) return undefined;
  return Buffer.from(text, 'latin1');
}

/** The general path: measured once, then written in place, one allocation for the whole. */
function encodeAny(list: readonly Pair[]): Buffer {
  const sizes: number[] = [];
  let total = 0;
  for (const [name, value] of list) {
    const n = Buffer.byteLength(name, 'utf8');
    const v = Buffer.byteLength(value, 'utf8');
    sizes.push(n, v);
    total += lengthBytes(n) + lengthBytes(v) + n + v;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < list.length; i++) {
    const [name, value] = list[i]!;
    at = writeLength(out, at, sizes[2 * i]!);
    at = writeLength(out, at, sizes[2 * i + 1]!);
    at += out.write(name, at, 'utf8');
    at += out.write(value, at, 'utf8');
  }
  return out;
}

/**
 * A length up to 127 takes one byte, a longer one four with the top bit set. No JavaScript
 * string reaches 2^31 bytes of UTF-8 (V8 caps strings near 2^29 characters), so 31 bits suffice.
 */
function lengthBytes(length: number): number {
  return length <= 127 ? 1 : 4;
}

function writeLength(out: Buffer, at: number, length: number): number {
  if (length <= 127) return out.writeUInt8(length, at);
  return out.writeUInt32BE((length | 0x80000000) >>> 0, at);
}

/**
 * Reads the complete pairs at the start of `bytes`; `rest` counts the bytes of a pair cut
 * short, which a trace of one PARAMS record can show (a pair may straddle two records).
 * A declared length is only compared, never allocated: 80 00 00 00 claims 2 GB and costs
 * nothing.
 */
export function readPairs(bytes: Buffer, maxBytes = DEFAULT_MAX_PARAMS_BYTES): { pairs: Pair[]; rest: number } {
  const pairs: Pair[] = [];
  // All ASCII (no 4-byte length either), as a request's environment nearly always is: decoded
  // once, and each name and value cut from that string, rather than decoded one by one.
  const text = isAscii(bytes) ? bytes.toString('latin1') : undefined;
  let at = 0;
  for (;;) {
    const name = readLength(bytes, at);
    if (!name) break;
    const value = readLength(bytes, name.next);
    if (!value) break;
    if (name.length > maxBytes || value.length > maxBytes || name.length + value.length > maxBytes)
      throw new FastCgiError(`fastcgi: a name-value pair declares ${name.length}+${value.length} bytes, over the limit of ${maxBytes}`);
    const end = value.next + name.length + value.length;
    if (end > bytes.length) break;
    const nameEnd = value.next + name.length;
    if (text !== undefined) pairs.push([knownName(text, value.next, nameEnd, pairs.length), text.slice(nameEnd, end)]);
    else pairs.push([bytes.toString('utf8', value.next, nameEnd), bytes.toString('utf8', nameEnd, end)]);
    at = end;
  }
  return { pairs, rest: bytes.length - at };
}

/** Decodes a whole PARAMS stream or GET_VALUES body; a pair cut short is an error. */
export function decodeParams(bytes: Buffer, maxBytes = DEFAULT_MAX_PARAMS_BYTES): Pair[] {
  if (bytes.length > maxBytes) throw new FastCgiError(`fastcgi: ${bytes.length} bytes of name-value pairs, over the limit of ${maxBytes}`);
  const { pairs, rest } = readPairs(bytes, maxBytes);
  if (rest > 0) throw new FastCgiError(`fastcgi: the last name-value pair is cut short (${rest} bytes left over)`);
  return pairs;
}

/**
 * Collects a PARAMS stream record by record and refuses it as soon as it outgrows
 * `maxBytes`, so a peer cannot make us buffer without bound before the closing record.
 */
export class ParamsCollector {
  #chunks: Buffer[] = [];
  #size = 0;
  #maxBytes: number;

  constructor(maxBytes = DEFAULT_MAX_PARAMS_BYTES) {
    this.#maxBytes = maxBytes;
  }

  push(content: Buffer): void {
    this.#size += content.length;
    if (this.#size > this.#maxBytes) throw new FastCgiError(`fastcgi: PARAMS stream exceeds the limit of ${this.#maxBytes} bytes`);
    this.#chunks.push(content);
  }

  /** The pairs, once the empty record has closed the stream. */
  end(): Pair[] {
    // Most web servers send the whole environment in one record: no copy then.
    const bytes = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
    return decodeParams(bytes, this.#maxBytes);
  }
}

/**
 * The names a web server sends, by their place in the stream: it sends the same ones in the same
 * order on every request (nginx's fastcgi_params). The one seen before is reused where it
 * matches, an interned string, rather than a new one that V8 must look up in its string table
 * each time it becomes a property name (measured: half the cost of building the params object).
 */
const recentNames: string[] = [];
const MAX_RECENT_NAMES = 256;

function knownName(text: string, start: number, end: number, index: number): string {
  const known = recentNames[index];
  if (known !== undefined && known.length === end - start && text.startsWith(known, start)) return known;
  const name = text.slice(start, end);
  if (index < MAX_RECENT_NAMES) recentNames[index] = name;
  return name;
}

function readLength(bytes: Buffer, at: number): { length: number; next: number } | undefined {
  if (at >= bytes.length) return undefined;
  const first = bytes[at]!;
  if (first < 0x80) return { length: first, next: at + 1 };
  if (at + 4 > bytes.length) return undefined;
  return { length: bytes.readUInt32BE(at) & MAX_LENGTH, next: at + 4 };
}
