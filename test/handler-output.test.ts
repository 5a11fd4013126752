/**
 * A handler's stdout (src/run/handler-output.ts): kept whole while nobody reads it, then a
 * stream that begins with what was kept, with backpressure from there on, and cut short when
 * the runner stops the request.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { HandlerOutput } from '../src/run/handler-output.ts';

describe("a handler's stdout", () => {
  it('keeps what is written and gives it whole, strings as UTF-8', () => {
    const out = new HandlerOutput(1024, () => assert.fail('not full'));
    out.write('Content-Type: text/plain\r\n\r\n');
    out.write(Buffer.from('caf'));
    out.end('é\n');
    assert.equal(out.whole().toString(), 'Content-Type: text/plain\r\n\r\ncafé\n');
    assert.equal(out.wrote, true);
  });

  it('says when more than its limit is kept, once per write past it', () => {
    let full = 0;
    const out = new HandlerOutput(10, () => full++);
    out.write('12345');
    assert.equal(full, 0);
    out.write('678901');
    assert.equal(full, 1);
  });

  it('as a stream, gives what was kept first, then what follows, then ends', async () => {
    const out = new HandlerOutput(1024, () => {});
    out.write('kept ');
    const stream = out.stream();
    assert.equal(out.stream(), stream, 'one stream');
    out.write('then streamed');
    out.end();
    assert.equal(await text(stream), 'kept then streamed');
  });

  it('as a stream after the handler ended, gives all of it', async () => {
    const out = new HandlerOutput(1024, () => {});
    out.end('all of it');
    await once(out, 'finish');
    assert.equal(await text(out.stream()), 'all of it');
  });

  it('pushes back on the handler while nobody reads the stream', async () => {
    const out = new HandlerOutput(0, () => {});
    out.stream(); // nobody reads it
    const chunk = Buffer.alloc(16 * 1024);
    let writes = 0;
    while (out.write(chunk)) if (++writes > 100) assert.fail('write() never said false');
    assert.ok(out.writableNeedDrain);
  });

  it("cut off, ends the stream short and closes the handler's side (its close listeners stop it)", async () => {
    const out = new HandlerOutput(1024, () => {});
    out.write('partial');
    const closed = once(out, 'close');
    const stream = out.stream();
    out.cutOff();
    await closed;
    assert.equal(out.cut, true);
    assert.equal(stream.destroyed, true);
    assert.equal(stream.readableEnded, false);
  });

  it('cut off before anyone read it, gives a stream already cut', () => {
    const out = new HandlerOutput(1024, () => {});
    out.write('partial');
    out.cutOff();
    const stream = out.stream();
    assert.equal(stream.destroyed, true);
    assert.equal(stream.readableEnded, false);
  });
});
