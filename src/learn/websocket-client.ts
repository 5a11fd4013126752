/**
 * The lesson checker's WebSocket client, written on a raw TCP socket so that a learner sees
 * every byte of RFC 6455: the opening handshake (§4.1), client frames masked as §5.3 requires,
 * the server's frames parsed by §5.2, the closing handshake (§5.5.1). Deliberately small: text
 * and close frames, no fragments, no extensions — what the lessons need, and nothing hidden.
 */
import { connect, type Socket } from 'node:net';
import type { Response } from './wire.ts';

/** §5.2 opcodes. */
export const Opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  /** The whole frame as it travelled. */
  bytes: Buffer;
}

/** One client frame: FIN set, masked with `mask` (§5.3: each payload byte XOR mask[i % 4]). */
export function clientFrame(opcode: number, payload: Buffer, mask: Buffer): Buffer {
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigLength(length)]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([head, mask, masked]);
}

function bigLength(length: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(length));
  return bytes;
}

/** The frames complete in `bytes` from `start` (§5.2), and where the first incomplete one begins. */
export function parseFrames(bytes: Buffer, start = 0): { frames: Frame[]; end: number } {
  const frames: Frame[] = [];
  let at = start;
  for (;;) {
    if (bytes.length < at + 2) break;
    const first = bytes[at]!;
    const second = bytes[at + 1]!;
    let length = second & 0x7f;
    let headLength = 2;
    if (length === 126) {
      if (bytes.length < at + 4) break;
      length = bytes.readUInt16BE(at + 2);
      headLength = 4;
    } else if (length === 127) {
      if (bytes.length < at + 10) break;
      length = Number(bytes.readBigUInt64BE(at + 2));
      headLength = 10;
    }
    const masked = (second & 0x80) !== 0;
    const mask = masked ? bytes.subarray(at + headLength, at + headLength + 4) : undefined;
    const payloadStart = at + headLength + (masked ? 4 : 0);
    if (bytes.length < payloadStart + length) break;
    const raw = bytes.subarray(payloadStart, payloadStart + length);
    const payload = mask ? Buffer.from(raw.map((b, i) => b ^ mask[i % 4]!)) : Buffer.from(raw);
    frames.push({ fin: (first & 0x80) !== 0, opcode: first & 0x0f, payload, bytes: Buffer.from(bytes.subarray(at, payloadStart + length)) });
    at = payloadStart + length;
  }
  return { frames, end: at };
}

/** The opening handshake's request (§4.1): a GET with Upgrade, Connection, the key and version 13. */
function handshakeRequest(host: string, path: string, key: string): Buffer {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    'latin1',
  );
}

export interface WebSocketProbe {
  /** The server's answer to the handshake (101 when it switched). */
  response: Response;
  /** A text message, in one masked frame. */
  send(text: string): void;
  /** The next frame from the server, or undefined if none came within `timeoutMs` (or the connection ended). */
  next(timeoutMs: number): Promise<Frame | undefined>;
  /** A close frame with `code` (§5.5.1); resolves once the server has closed the TCP connection, or after `timeoutMs`. */
  close(code: number, timeoutMs: number): Promise<boolean>;
  /** The handshake as written and as answered, for the report. */
  handshake(): { sent: Buffer; received: Buffer };
  /** Every frame so far, one line each, as docs/websocket.md shows them: direction, bytes in hex, meaning. */
  frameLog(): string[];
  destroy(): void;
}

/**
 * Opens a WebSocket to 127.0.0.1:port: writes the handshake, waits for the head of the answer.
 * Masks come from `random` (the check's seeded source), so a run can be repeated byte for byte.
 */
export function openWebSocket(port: number, path: string, options: { key: string; random: () => number; timeoutMs: number }): Promise<WebSocketProbe> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const written: Buffer[] = [];
    const log: string[] = [];
    let received = Buffer.alloc(0);
    let frameStart = -1;
    let parsed = 0;
    const queue: Frame[] = [];
    let ended = false;
    let wake: () => void = () => {};
    const write = (bytes: Buffer) => {
      written.push(bytes);
      if (!socket.destroyed) socket.write(bytes);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to the handshake within ${options.timeoutMs / 1000}s`));
    }, options.timeoutMs);
    socket.on('error', (error) => {
      ended = true;
      wake();
      reject(error);
    });
    socket.on('close', () => {
      ended = true;
      wake();
      clearTimeout(timer);
      if (frameStart < 0)
        reject(
          new Error(
            received.length
              ? `the server closed the connection after: ${received.toString('latin1').split('\r\n')[0]}`
              : 'the server closed the connection without answering',
          ),
        );
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (frameStart < 0) {
        const headEnd = received.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        clearTimeout(timer);
        frameStart = parsed = headEnd + 4;
        resolve(probe(parseHead(received.subarray(0, headEnd))));
      }
      const { frames, end } = parseFrames(received, parsed);
      log.push(...frames.map((frame) => describeFrame('server → client', frame)));
      parsed = end;
      queue.push(...frames);
      wake();
    });
    socket.on('connect', () => write(handshakeRequest(`127.0.0.1:${port}`, path, options.key)));

    const mask = () => Buffer.from([0, 0, 0, 0].map(() => Math.floor(options.random() * 256)));
    const sendFrame = (opcode: number, payload: Buffer) => {
      const bytes = clientFrame(opcode, payload, mask());
      log.push(describeFrame('client → server', { ...parseFrames(bytes).frames[0]!, bytes }));
      write(bytes);
    };
    const probe = (response: Response): WebSocketProbe => ({
      response,
      send: (text) => sendFrame(Opcode.text, Buffer.from(text)),
      async next(timeoutMs) {
        const until = Date.now() + timeoutMs;
        while (!queue.length && !ended && Date.now() < until) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, until - Date.now());
            wake = () => {
              clearTimeout(t);
              r();
            };
          });
        }
        return queue.shift();
      },
      async close(code, timeoutMs) {
        const payload = Buffer.alloc(2);
        payload.writeUInt16BE(code);
        sendFrame(Opcode.close, payload);
        const until = Date.now() + timeoutMs;
        while (!ended && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        return ended;
      },
      handshake: () => ({ sent: written[0] ?? Buffer.alloc(0), received: received.subarray(0, frameStart) }),
      frameLog: () => [...log],
      destroy: () => socket.destroy(),
    });
  });
}

/** A frame as a line a learner reads: `client → server  81 85 37 fa …  text "hello" (masked)`. */
export function describeFrame(direction: string, frame: Frame): string {
  const hex = [...frame.bytes.subarray(0, 24)].map((b) => b.toString(16).padStart(2, '0')).join(' ') + (frame.bytes.length > 24 ? ' …' : '');
  const masked = (frame.bytes[1]! & 0x80) !== 0 ? ', masked' : '';
  const meaning =
    frame.opcode === Opcode.text
      ? `text ${JSON.stringify(frame.payload.toString('utf8'))}`
      : frame.opcode === Opcode.close
        ? `close ${frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : '(no code)'}${frame.payload.length > 2 ? ` ${JSON.stringify(frame.payload.subarray(2).toString('utf8'))}` : ''}`
        : `opcode ${frame.opcode}, ${frame.payload.length} bytes`;
  return `${direction}  ${hex}  ${meaning}${masked}`;
}

function parseHead(head: Buffer): Response {
  const [statusLine = '', ...lines] = head.toString('latin1').split('\r\n');
  const match = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) (headers[line.slice(0, colon).trim().toLowerCase()] ??= []).push(line.slice(colon + 1).trim());
  }
  return { httpVersion: match?.[1] ?? '', status: Number(match?.[2] ?? 0), reason: match?.[3] ?? statusLine, headers, body: Buffer.alloc(0), text: '' };
}
