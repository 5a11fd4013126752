/**
 * One line per record, for `--trace`: what a learner would see with a protocol analyser.
 *
 *   recv BEGIN_REQUEST id=1 content=8 padding=0 role=RESPONDER flags=KEEP_CONN
 *   recv PARAMS id=1 content=412 padding=4 SCRIPT_NAME=/cgi-bin/hello.js QUERY_STRING=a=1 ...
 *   send STDOUT id=1 content=0 padding=0 (end of stream)
 *   send END_REQUEST id=1 content=8 padding=0 appStatus=0 protocolStatus=REQUEST_COMPLETE
 */
import { Flags, ProtocolStatus, RecordType, Role, nameOf } from './protocol.ts';
import type { FcgiRecord } from './records.ts';
import { decodeBeginRequestBody, decodeEndRequestBody, decodeUnknownTypeBody } from './records.ts';
import { readPairs } from './params.ts';

/** `recv` for a record read from the peer, `send` for one written to it. */
export type Direction = 'recv' | 'send';

/** Called for every record decoded or encoded, when tracing is on. */
export type TraceRecord = (record: FcgiRecord, direction: Direction) => void;

const STREAMS: ReadonlySet<number> = new Set([
  RecordType.PARAMS,
  RecordType.STDIN,
  RecordType.STDOUT,
  RecordType.STDERR,
  RecordType.DATA,
]);

export function describeRecord(record: FcgiRecord, direction: Direction): string {
  const head = `${direction} ${nameOf(RecordType, record.type)} id=${record.requestId} content=${record.content.length} padding=${record.paddingLength}`;
  const detail = describeContent(record);
  return detail ? `${head} ${detail}` : head;
}

function describeContent({ type, content }: FcgiRecord): string {
  if (content.length === 0) return STREAMS.has(type) ? '(end of stream)' : '';
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
