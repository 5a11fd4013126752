/**
 * The lesson checker's WebSocket frames, byte for byte against RFC 6455 §5.7's examples
 * (test/websocket.test.ts holds the server to the protocol; this holds the checker's client;
 * lesson 12's development check runs the two together).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientFrame, describeFrame, Opcode, parseFrames } from '../src/learn/websocket-client.ts';

const hex = (text: string) => Buffer.from(text.replace(/ /g, ''), 'hex');

describe("the checker's WebSocket frames (RFC 6455 §5.7)", () => {
  it('a masked "Hello" from the client: 81 85 37 fa 21 3d 7f 9f 4d 51 58', () => {
    assert.deepEqual(clientFrame(Opcode.text, Buffer.from('Hello'), hex('37fa213d')), hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });

  it('parses an unmasked "Hello" and the masked one alike, and says what each is', () => {
    const { frames, end } = parseFrames(hex('81 05 48 65 6c 6c 6f 81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    assert.equal(end, 18);
    assert.deepEqual(
      frames.map((f) => [f.fin, f.opcode, f.payload.toString()]),
      [
        [true, 1, 'Hello'],
        [true, 1, 'Hello'],
      ],
    );
    assert.equal(describeFrame('server → client', frames[0]!), 'server → client  81 05 48 65 6c 6c 6f  text "Hello"');
    assert.match(describeFrame('client → server', frames[1]!), /text "Hello", masked$/);
  });

  it('a fragment ("Hel" without FIN), a close with its code, and a frame cut short left for later', () => {
    const { frames, end } = parseFrames(hex('01 03 48 65 6c 88 02 03 e8 81 05 48 65'));
    assert.deepEqual(
      frames.map((f) => [f.fin, f.opcode]),
      [
        [false, 1],
        [true, 8],
      ],
    );
    assert.equal(end, 9, 'the incomplete third frame is not consumed');
    assert.equal(describeFrame('server → client', frames[1]!), 'server → client  88 02 03 e8  close 1000');
  });

  it('lengths of 126 and 65536 bytes take 2 and 8 more length bytes (§5.2)', () => {
    const mask = hex('00000000');
    const medium = clientFrame(Opcode.binary, Buffer.alloc(256), mask);
    assert.deepEqual(medium.subarray(0, 4), hex('82 fe 01 00'));
    const large = clientFrame(Opcode.binary, Buffer.alloc(65536), mask);
    assert.deepEqual(large.subarray(0, 10), hex('82 ff 00 00 00 00 00 01 00 00'));
    assert.equal(parseFrames(large).frames[0]!.payload.length, 65536);
  });
});
