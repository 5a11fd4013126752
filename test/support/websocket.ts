/**
 * WebSocket as a client speaks it, for tests: the `ws` library as a browser would use it, and
 * RFC 6455 by hand (the handshake on a raw socket, masked frames built byte by byte) to see
 * exactly what the server sends.
 */
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { clientFrame, parseFrames } from '../../src/learn/websocket-client.ts';

/** RFC 6455 §1.3's own example: this key must be answered with this accept value. */
export const rfcKey = 'dGhlIHNhbXBsZSBub25jZQ==';
export const rfcAccept = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

export interface Session {
  ws: WebSocket;
  /** Every text message received so far. */
  messages: string[];
  /** Settles with the close code and reason once the connection is closed. */
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `count` messages have arrived in all (bounded: rejects after `ms`). */
  received(count: number, ms?: number): Promise<string[]>;
}

/** Opens a WebSocket to ws://127.0.0.1:PORT/PATH; rejects with the HTTP status if the server refuses. */
export function openSession(port: number, path: string, headers: Record<string, string> = {}): Promise<Session> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers, perMessageDeflate: false });
    const messages: string[] = [];
    const waiters = new Set<() => void>();
    ws.on('message', (data, isBinary) => {
      messages.push(isBinary ? `<binary ${String(data)}>` : String(data));
      for (const wake of waiters) wake();
    });
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.on('close', (code, reason) => done({ code, reason: String(reason) })));
    const received = (count: number, ms = 10_000) => waitForCount(messages, count, ms, waiters, 'messages');
    ws.once('open', () => resolve({ ws, messages, closed, received }));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, headers: res.headers }));
      res.resume();
      ws.terminate();
    });
    ws.once('error', (error) => reject(error));
  });
}

/** Resolves with the first `count` items once `items` (woken through `waiters`) holds them; rejects after `ms`. */
function waitForCount<T>(items: T[], count: number, ms: number, waiters: Set<() => void>, what: string): Promise<T[]> {
  return new Promise((done, fail) => {
    const check = () => {
      if (items.length < count) return;
      waiters.delete(check);
      clearTimeout(timer);
      done(items.slice(0, count));
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      fail(new Error(`${items.length} of ${count} ${what} within ${ms}ms: ${JSON.stringify(items).slice(0, 500)}`));
    }, ms);
    waiters.add(check);
    check();
  });
}

/** `env`'s output, one NAME=value a message, back into an object. */
export function envOf(messages: string[]): Record<string, string> {
  return Object.fromEntries(messages.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** Sends each message, then collects the replies until the server closes: the whole conversation. */
export async function converse(port: number, path: string, messages: string[], expectReplies: number): Promise<{ replies: string[]; code: number }> {
  const session = await openSession(port, path);
  for (const message of messages) session.ws.send(message);
  const replies = await session.received(expectReplies);
  session.ws.close(1000);
  const { code } = await session.closed;
  return { replies, code };
}

/** A frame as a client must send it (RFC 6455 §5.2, §5.3): FIN set, masked with `mask` (the checker's encoder). */
export function maskedFrame(opcode: number, payload: Buffer, mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d])): Buffer {
  return clientFrame(opcode, payload, mask);
}

export interface Frame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** The frames complete in `data` (the checker's parser, src/learn/websocket-client.ts), and the bytes left over. */
export function readFrames(data: Buffer): { frames: Frame[]; rest: Buffer } {
  const { frames, end } = parseFrames(data);
  return {
    frames: frames.map(({ fin, opcode, payload, bytes }) => ({ fin, opcode, masked: (bytes[1]! & 0x80) !== 0, payload })),
    rest: data.subarray(end),
  };
}

export interface RawConnection {
  socket: Socket;
  /** The response head, up to the blank line. */
  head: string;
  status: number;
  headers: Record<string, string>;
  /** Resolves once `count` frames have arrived (bounded). */
  frames(count: number, ms?: number): Promise<Frame[]>;
  /** Resolves once the server has closed the TCP connection. */
  ended: Promise<void>;
}

/** The opening handshake typed by hand (RFC 6455 §4.1), then the socket, to send frames on. */
export function rawHandshake(port: number, path: string, headers: Record<string, string>): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const fields = Object.entries({ Host: `127.0.0.1:${port}`, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`GET ${path} HTTP/1.1\r\n${fields.join('')}\r\n`);
    let data: Buffer = Buffer.alloc(0);
    let connection: RawConnection | undefined;
    const frames: Frame[] = [];
    const waiters = new Set<() => void>();
    const ended = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (!connection) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = data.subarray(0, end).toString('latin1');
        data = data.subarray(end + 4);
        const [statusLine, ...lines] = head.split('\r\n');
        const parsed: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          parsed[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        connection = { socket, head, status: Number(statusLine!.split(' ')[1]), headers: parsed, frames: waitFrames, ended };
        resolve(connection);
      }
      const read = readFrames(data);
      frames.push(...read.frames);
      data = read.rest;
      for (const wake of waiters) wake();
    });
    const waitFrames = (count: number, ms = 10_000) => waitForCount(frames, count, ms, waiters, 'frames');
  });
}

/** The handshake headers a client sends, with the RFC's own key. */
export function handshakeHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': rfcKey, 'Sec-WebSocket-Version': '13', ...extra };
}
