/**
 * WebSocket (RFC 6455) to cgi-bin scripts, websocketd's way (Joe Walnes, 2013: "like inetd, but
 * for WebSockets"). A handshake for /cgi-bin/NAME runs NAME once for the connection: each text
 * message from the client is a line on its stdin, each line it prints a text message back, the
 * connection closing ends it (and its process group), and its ending closes the connection.
 * docs/websocket.md tells the story; the protocol itself is the `ws` library's.
 *
 * Where websocketd differs, on purpose, and why:
 * - the script ending is a close frame (RFC 6455 §7.1.1): 1000 when it exited 0, 1011 ("an
 *   unexpected condition", §7.4.1) otherwise. websocketd drops the TCP connection without one,
 *   which a client reports as 1006;
 * - a last line without its newline is still sent (websocketd drops it): nothing is lost;
 * - the environment is the one every mode builds (src/cgi/env.ts): GATEWAY_INTERFACE is
 *   CGI/1.1, PATH is fixed, and SCRIPT_NAME carries /cgi-bin/.
 *
 * Bad input, each with its answer: a path that is no script 404; a malformed handshake 400, an
 * unknown Sec-WebSocket-Version 426 naming 13 (§4.4); a mode that cannot carry a WebSocket 501;
 * past --max-concurrency 503. A message over maxMessageBytes is closed 1009 (by ws); a binary
 * message 1003, "a type of data it cannot accept" (§7.4.1): a line-oriented script has no way to
 * read one. A client sending faster than its script reads is slowed, not buffered: past
 * stdinHighWater the socket is paused (TCP does the rest), as websocketd's unbuffered channel does.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Mode } from '../mode.ts';
import { NotAScript, type Script } from '../script/describe.ts';
import { type LiveRequest, requestArrived, requestEnded, requestRuns } from '../live-events.ts';
import { splitTarget } from './exchange.ts';
import { requestEnv, type FoundScript, type GatewayOptions } from './gateway.ts';
import type { Logger } from './log.ts';
import { normalizeRequestPath } from './paths.ts';

/** The largest message taken from a client; ws closes with 1009 past it. A line printed longer is sent in pieces. */
const maxMessageBytes = 1024 * 1024;
/** Unread bytes queued for a script's stdin before the client's socket is paused. */
const stdinHighWater = 64 * 1024;
/** Bytes queued for the client before the script's stdout is paused. */
const sendHighWater = 1024 * 1024;
/** A line cut into messages of at most this many characters, each at most maxMessageBytes in UTF-8. */
const maxLineChars = maxMessageBytes / 4;
/** How long closing connections may take at shutdown before they are cut. */
const closeGraceMs = 1000;

export interface WebSocketFrontOptions extends Pick<GatewayOptions, 'docroot' | 'passAuthorization' | 'serverSoftware'> {
  mode: Mode;
  logger: Logger;
  /** The script a path under /cgi-bin names, as the HTTP front finds it. */
  findScript(rest: string): FoundScript | undefined | Promise<FoundScript | undefined>;
  /** The gateway's --max-concurrency slots: a WebSocket's script counts as one while it runs. */
  slots: { takeSlot(): boolean; giveSlot(): void };
}

/** `Upgrade: websocket` (RFC 6455 §4.1): only these requests are handed to this front. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return /(^|,)\s*websocket\s*(,|$)/i.test(req.headers.upgrade ?? '');
}

/** What a handshake lacks, in the words of RFC 6455 §4.2.1; undefined when it is well formed. */
function handshakeProblem(req: IncomingMessage): { status: number; text: string; headers?: Record<string, string> } | undefined {
  if (req.method !== 'GET') return { status: 400, text: `a WebSocket handshake is a GET, not ${req.method}` };
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(req.headers.connection ?? '')) return { status: 400, text: 'a WebSocket handshake needs Connection: Upgrade' };
  const key = req.headers['sec-websocket-key'];
  // §4.1: a nonce of 16 random bytes, base64-encoded: 22 characters and "==".
  if (key === undefined || !/^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key)) return { status: 400, text: 'missing or invalid Sec-WebSocket-Key (16 bytes, base64)' };
  // §4.4: a version the server does not speak is answered with the versions it does; as a 426,
  // with the Upgrade field RFC 9110 §15.5.22 requires of one.
  if (req.headers['sec-websocket-version'] !== '13') {
    return { status: 426, text: 'this server speaks WebSocket version 13 (RFC 6455)', headers: { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' } };
  }
  return undefined;
}

export function createWebSocketFront(options: WebSocketFrontOptions) {
  const { mode, logger } = options;
  // permessage-deflate off: a line-sized message gains little, and it is memory per connection.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, perMessageDeflate: false, clientTracking: false });
  const open = new Set<{ ws: WebSocket; stop(): void }>();

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    const began = Date.now();
    const { target, rawPath } = splitTarget(req.url ?? '/');
    const live = requestArrived(req.method ?? 'GET', target, began);
    const access = (status: number, bytes: number) => {
      requestEnded(live, status, true);
      logger.access({
        remoteAddress: req.socket.remoteAddress ?? '-',
        time: new Date(began),
        method: req.method ?? '-',
        target,
        protocol: `HTTP/${req.httpVersion}`,
        status,
        bytes,
        referer: req.headers.referer,
        userAgent: req.headers['user-agent'],
        durationMs: Date.now() - began,
      });
    };
    /** An HTTP answer instead of the upgrade; the connection closes after it. */
    const refuse = (status: number, text: string, headers: Record<string, string> = {}) => {
      const body = `${status} ${text}\n`;
      const head = [
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
        'Connection: close',
        'Content-Type: text/plain; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
      ];
      for (const [field, value] of Object.entries(headers)) head.push(`${field}: ${value}`);
      if (socket.writable) socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
      else socket.destroy();
      access(status, Buffer.byteLength(body));
    };

    const path = normalizeRequestPath(rawPath);
    if (path === undefined) return refuse(400, 'Bad Request: the path cannot be decoded safely');
    if (!path.startsWith('/cgi-bin/')) return refuse(404, `Not Found: WebSocket connections go to scripts in /cgi-bin/, not ${path}`);
    const problem = handshakeProblem(req);
    if (problem) return refuse(problem.status, `${STATUS_CODES[problem.status]}: ${problem.text}`, problem.headers);
    const found = await options.findScript(path.slice('/cgi-bin'.length));
    if (!found) return refuse(404, `Not Found: no script at ${path}`);
    const { location, script } = found;
    const name = `/cgi-bin${location.scriptPath}`;
    if (script instanceof Error) {
      logger.error(script instanceof NotAScript ? 'warn' : 'error', name, script.message);
      return script instanceof NotAScript
        ? refuse(403, `Forbidden: ${script.message}`)
        : refuse(500, 'Internal Server Error: the script cannot be run (see the error log)');
    }
    if (!mode.socket) {
      // RFC 9110 §15.6.2: the server lacks what the request needs. Not 426: the client asked to upgrade; this server cannot.
      return refuse(
        501,
        `Not Implemented: ${mode.name} mode cannot carry a WebSocket (FastCGI 1.0 has requests and responses, no upgrade); run --mode cgi or embedded, or put a proxy_pass in front (docs/websocket.md)`,
      );
    }
    const refusal = mode.refuses?.(script);
    if (refusal) {
      logger.error('error', name, refusal);
      return refuse(500, `Internal Server Error: ${refusal}`);
    }
    if (script.kind === 'handler' && !script.websocket)
      return refuse(400, `Bad Request: ${name} is a handler with no WebSocket entry (\`export function websocket\`)`);
    if (!options.slots.takeSlot()) {
      logger.error('warn', name, 'WebSocket refused: the --max-concurrency limit of scripts is running');
      return refuse(503, 'Service Unavailable: too many scripts running, try again shortly', { 'Retry-After': '1' });
    }

    // ws writes the 101 (or, on a handshake it still finds wrong, answers through wsClientError)
    // synchronously here: a slot not used by then is given back.
    let upgraded = false;
    const onClientError = (error: Error, _socket: Duplex, failed: IncomingMessage) => failed === req && refuse(400, `Bad Request: ${error.message}`);
    wss.on('wsClientError', onClientError);
    wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      connect(ws, req, found.location, script, name, access, live);
    });
    wss.off('wsClientError', onClientError);
    if (!upgraded) options.slots.giveSlot();
  }

  /** One connection: the script started, messages relayed both ways, one access-log line at the end. */
  function connect(
    ws: WebSocket,
    req: IncomingMessage,
    location: FoundScript['location'],
    script: Script,
    name: string,
    access: (status: number, bytes: number) => void,
    live: LiveRequest,
  ): void {
    const controller = new AbortController();
    const stdin = new PassThrough({ highWaterMark: stdinHighWater });
    const { target, query } = splitTarget(req.url ?? '/');
    const run = mode.socket!({
      script,
      env: requestEnv(options, { req, method: 'GET', target, query, rawHeaders: req.rawHeaders }, location),
      args: [],
      body: stdin,
      signal: controller.signal,
      logStderr: (line) => logger.error('stderr', name, line),
    });
    requestRuns(live, name, run, controller.signal);
    const entry = { ws, stop: () => ws.close(1001, 'the server is shutting down') };
    open.add(entry);
    let sent = 0;

    // Client → script: a message is a line on stdin. Past the high-water mark the socket pauses
    // until the script has read, so a flood waits in TCP's buffers, not ours.
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return ws.close(1003, 'binary messages are not accepted: the script reads lines of text');
      if (stdin.writableEnded) return;
      const more = stdin.write(Buffer.concat([data, newline]));
      if (!more && !ws.isPaused) {
        ws.pause();
        stdin.once('drain', () => ws.resume());
      }
    });
    ws.on('error', (error) => logger.error('warn', name, `WebSocket: ${error.message}`));

    // Script → client: a line is a message (its CR LF or LF dropped, as websocketd does).
    const decoder = new StringDecoder('utf8');
    let pending = '';
    const send = (text: string) => {
      if (ws.readyState !== ws.OPEN) return;
      sent += Buffer.byteLength(text);
      ws.send(text, () => {
        if (run.stdout.isPaused() && ws.bufferedAmount < sendHighWater / 2) run.stdout.resume();
      });
      if (ws.bufferedAmount >= sendHighWater) run.stdout.pause();
    };
    run.stdout.on('data', (chunk: Buffer) => {
      const lines = (pending + decoder.write(chunk)).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) send(line.endsWith('\r') ? line.slice(0, -1) : line);
      for (; pending.length > maxLineChars; pending = pending.slice(maxLineChars)) send(pending.slice(0, maxLineChars));
    });

    // The script ends: what it printed last goes out, then a close frame that says how it ended.
    const output = finished(run.stdout).catch(() => {});
    void Promise.all([output, run.finished]).then(([, exit]) => {
      const last = pending + decoder.end();
      if (last) send(last);
      if (exit.ok) return ws.close(1000, 'the script exited');
      if (controller.signal.aborted) return;
      logger.error('error', name, `${exit.reason}: the WebSocket was closed with 1011`);
      ws.close(1011, 'the script failed (see the error log)');
    });

    // The connection ends (a close frame, or a dropped socket): the script is stopped with its group.
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    void closed.then(() => {
      open.delete(entry);
      stdin.end();
      controller.abort(new Error('the connection closed'));
    });
    void Promise.all([closed, run.finished]).then(() => {
      options.slots.giveSlot();
      access(101, sent);
    });
  }

  return {
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      upgrade(req, socket, head).catch((error: Error) => {
        logger.error('error', 'server', error.stack ?? error.message);
        socket.destroy();
      });
    },
    /** Connections open now. */
    get open(): number {
      return open.size;
    },
    /** Says 1001 (going away, §7.4.1) to every connection, and cuts those still open after a grace. */
    close(): void {
      const closing = [...open];
      for (const entry of closing) entry.stop();
      setTimeout(() => {
        for (const { ws } of closing) ws.terminate();
      }, closeGraceMs).unref();
    },
  };
}

const newline = Buffer.from('\n');
