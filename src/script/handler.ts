/**
 * The handler script contract (DESIGN.md, "The script contract"): a module whose default
 * export receives the CGI environment, the request body and a stream to print the CGI
 * response to, exactly what a CGI program would see and print. The same file runs unchanged
 * under every mode; the returned promise settling means the response is complete.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** @public What a handler script is called with: the contract a script author writes against. */
export interface HandlerContext {
  /** The CGI meta-variables (RFC 3875 §4.1): never the server's own environment. */
  env: Record<string, string>;
  /** The request body: exactly CONTENT_LENGTH bytes. */
  stdin: Readable;
  /** Where the handler prints its CGI response: headers, a blank line, the body. */
  stdout: Writable;
}

export type Handler = (context: HandlerContext) => unknown;

/**
 * @public
 * The WebSocket entry a handler script may export beside its default (docs/websocket.md):
 * `export function websocket({ env, messages, send })`. It is websocketd's model in JavaScript:
 * `messages` is the client's text messages in order (a program's stdin lines), `send` prints one
 * (a line on stdout), and the function settling ends the connection, as a program's exit does:
 * close code 1000 when it resolves, 1011 when it throws. A message with a newline in it is two
 * lines, so two messages, exactly as when a program prints it.
 */
export interface WebSocketContext {
  /** The CGI meta-variables of the handshake request (RFC 3875 §4.1, HTTP_* included). */
  env: Record<string, string>;
  /** The client's text messages; the iteration ends when the client closes. */
  messages: AsyncIterable<string>;
  /** Sends one text message to the client. */
  send(text: string): void;
}

export type WebSocketHandler = (context: WebSocketContext) => unknown;

/**
 * Calls a WebSocket entry over the streams a program would have: one line of `stdin` per
 * message in, one line of `stdout` per message out. The CGI shim passes its process's own
 * streams, embedded mode in-process ones, so the entry behaves alike in both.
 */
export async function callWebSocket(entry: WebSocketHandler, env: Record<string, string>, stdin: Readable, stdout: Writable): Promise<void> {
  const lines = createInterface({ input: stdin, crlfDelay: Infinity });
  try {
    await entry({ env, messages: lines, send: (text) => void stdout.write(`${text}\n`) });
  } finally {
    lines.close();
  }
}
