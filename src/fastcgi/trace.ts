/**
 * One line per record, for `--trace`: what a learner would see with a protocol analyser.
 *
 *   recv BEGIN_REQUEST id=1 content=8 padding=0 role=RESPONDER flags=KEEP_CONN
 *   recv PARAMS id=1 content=412 padding=4 SCRIPT_NAME=/cgi-bin/hello.js QUERY_STRING=a=1 ...
 *   send STDOUT id=1 content=39 padding=1 "Content-Type: text/plain\r\n\r\nHello, wo"…
 *   send STDOUT id=1 content=0 padding=0 (end of stream)
 *   send END_REQUEST id=1 content=8 padding=0 appStatus=0 protocolStatus=REQUEST_COMPLETE
 *
 * traceWriter prints them as docs/fastcgi.md shows them: a long line (PARAMS) folded under its
 * record, and a blank line after each END_REQUEST, between one request and the next.
 */
import { Flags, ProtocolStatus, RecordType, Role, nameOf } from './protocol.ts';
import type { FcgiRecord } from './records.ts';
import { decodeBeginRequestBody, decodeEndRequestBody, decodeUnknownTypeBody } from './records.ts';
import { readPairs } from './params.ts';

/** `recv` for a record read from the peer, `send` for one written to it. */
export type Direction = 'recv' | 'send';

/** Called for every record decoded or encoded, when tracing is on. */
export type TraceRecord = (record: FcgiRecord, direction: Direction) => void;

const STREAMS: ReadonlySet<number> = new Set([RecordType.PARAMS, RecordType.STDIN, RecordType.STDOUT, RecordType.STDERR, RecordType.DATA]);

/** Bytes of a stream record shown: enough to recognise a header or a line, not a whole body. */
const PREVIEW_BYTES = 32;
/** Where traceWriter folds a long line; the rest goes on lines indented under the record. */
const FOLD_AT = 100;
const CONTINUATION = '     ';

/** --trace for people: each record as describeRecord says it, folded, requests set apart. */
export function traceWriter(write: (text: string) => void): TraceRecord {
  return (record, direction) => {
    write(`${fold(describeRecord(record, direction))}\n${record.type === RecordType.END_REQUEST ? '\n' : ''}`);
  };
}

/** Breaks a line at spaces (between name=value pairs: a value with a space is quoted) to FOLD_AT columns. */
function fold(line: string): string {
  const lines: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current && current.length + 1 + word.length > FOLD_AT) {
      lines.push(current);
      current = CONTINUATION + word;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  lines.push(current);
  return lines.join('\n');
}

export function describeRecord(record: FcgiRecord, direction: Direction): string {
  const head = `${direction} ${nameOf(RecordType, record.type)} id=${record.requestId} content=${record.content.length} padding=${record.paddingLength}`;
  const detail = describeContent(record);
  return detail ? `${head} ${detail}` : head;
}

function describeContent({ type, content }: FcgiRecord): string {
  if (content.length === 0) return STREAMS.has(type) ? '(end of stream)' : '';
  if (type !== RecordType.PARAMS && STREAMS.has(type)) {
    const shown = JSON.stringify(content.subarray(0, PREVIEW_BYTES).toString('latin1'));
    return content.length > PREVIEW_BYTES ? `${shown}…` : shown;
  }
  try {
    switch (type) {
      case RecordType.BEGIN_REQUEST: {
        const { role, flags } = decodeBeginRequestBody(content);
        return `role=${nameOf(Role, role)} flags=${flags === Flags.KEEP_CONN ? 'KEEP_CONN' : flags}`;
      }
      case RecordType.END_REQUEST: {
        const { appStatus, protocolStatus } = decodeEndRequestBody(content);
        return `appStatus=${appStatus} protocolStatus=${nameOf(ProtocolStatus, protocolStatus)}`;
      }
      case RecordType.UNKNOWN_TYPE:
        return `type=${decodeUnknownTypeBody(content).type}`;
      case RecordType.PARAMS:
      case RecordType.GET_VALUES:
      case RecordType.GET_VALUES_RESULT: {
        const { pairs, rest } = readPairs(content);
        const text = pairs.map(([name, value]) => `${quote(name)}=${quote(value)}`).join(' ');
        return rest > 0 ? `${text} (+${rest} bytes continued in the next record)` : text;
      }
    }
  } catch (error) {
    return `(malformed: ${(error as Error).message})`;
  }
  return '';
}

/** Printable ASCII without spaces shows as is; anything else as a JSON string. */
function quote(text: string): string {
  return /^[\x21-\x7e]*$/.test(text) ? text : JSON.stringify(text);
}
