/**
 * The checker's event-stream reader against the WHATWG HTML standard's rules (§9.2.6), one
 * rule a case, and fed in every possible split of the bytes: a stream read as it arrives must
 * give the same events as the stream read whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventStreamParser, type ServerSentEvent } from '../src/learn/server-sent-events.ts';

function parse(...chunks: (string | Uint8Array)[]): { events: ServerSentEvent[]; parser: EventStreamParser } {
  const parser = new EventStreamParser();
  const events = chunks.flatMap((chunk) => parser.push(chunk));
  return { events, parser };
}

const message = (data: string, lastEventId = '', type = 'message'): ServerSentEvent => ({ type, data, lastEventId });

describe('reading text/event-stream by the WHATWG rules', () => {
  it('fields: id, data, event; one space after the colon removed, and only one', () => {
    const { events } = parse('id: 7\nevent: tick\ndata:  two spaces\n\ndata:none\n\n');
    assert.deepEqual(events, [message(' two spaces', '7', 'tick'), message('none', '7')]);
  });

  it('comments are skipped (and kept for the report); unknown fields are ignored', () => {
    const { events, parser } = parse(': hello\nfoo: bar\ndata: x\n\n');
    assert.deepEqual(events, [message('x')]);
    assert.deepEqual(parser.comments, [' hello']);
  });

  it('CR LF, LF and CR alone all end lines', () => {
    assert.deepEqual(parse('data: a\r\n\r\ndata: b\n\ndata: c\r\r').events, [message('a'), message('b'), message('c')]);
  });

  it('several data lines are one message joined by LF; a field name alone has an empty value', () => {
    assert.deepEqual(parse('data: one\ndata\ndata: three\n\n').events, [message('one\n\nthree')]);
  });

  it('no data, no event: an id alone still sets the last event ID for the next one', () => {
    assert.deepEqual(parse('id: 41\n\ndata: next\n\n').events, [message('next', '41')]);
  });

  it('an id containing NULL is ignored; an empty id resets it', () => {
    assert.deepEqual(parse('id: 5\ndata: a\n\nid: 6\0\ndata: b\n\nid\ndata: c\n\n').events, [message('a', '5'), message('b', '5'), message('c', '')]);
  });

  it('retry: only ASCII digits count', () => {
    assert.equal(parse('retry: 1500\n\n').parser.retry, 1500);
    assert.equal(parse('retry: 15s\n\n').parser.retry, undefined);
    assert.equal(parse('retry: 1500\nretry: -1\n\n').parser.retry, 1500);
  });

  it('an event not ended by an empty line is not dispatched', () => {
    assert.deepEqual(parse('data: a\n\ndata: b\n').events, [message('a')]);
  });

  it('a leading BOM is dropped; UTF-8 split inside a character decodes whole', () => {
    const bytes = Buffer.from('\ufeffdata: café\n\n');
    assert.deepEqual(parse(bytes.subarray(0, 12), bytes.subarray(12)).events, [message('café')]);
  });

  it('gives the same events however the bytes are split, a CR LF split between chunks included', () => {
    const stream = Buffer.from(': hi\r\nretry: 900\r\nid: 1\r\ndata: tick 1\r\n\r\nid: 2\rdata: tick 2\r\rdata: é\ndata: two\n\n');
    const whole = parse(stream).events;
    assert.equal(whole.length, 3);
    for (let a = 1; a < stream.length; a++) {
      for (const b of [a + 1, a + 3, stream.length]) {
        assert.deepEqual(parse(stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)).events, whole, `split at ${a} and ${b}`);
      }
    }
  });
});
