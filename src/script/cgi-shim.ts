/**
 * Runs a handler script as a CGI program (DESIGN.md, "The script contract"): one process, one
 * call with this process's environment, stdin and stdout, then exit. Module-level state
 * therefore starts fresh for every request under CGI, unlike FastCGI and embedded mode.
 *
 * With --websocket it calls the script's WebSocket entry instead (docs/websocket.md), one
 * process per connection: the client's messages are stdin lines, each `send` a stdout line, and
 * the entry settling is the process exiting (0: close code 1000; 1, the error on stderr: 1011).
 *
 * usage: node cgi-shim.js HANDLER_FILE [--websocket]
 */
import { pathToFileURL } from 'node:url';
import { callWebSocket, type Handler, type WebSocketHandler } from './handler.ts';

const [file, entry] = process.argv.slice(2);
if (!file || (entry !== undefined && entry !== '--websocket')) {
  process.stderr.write('usage: cgi-shim HANDLER_FILE [--websocket]\n');
  process.exit(2);
}

try {
  const module = await import(pathToFileURL(file).href);
  const env = { ...process.env } as Record<string, string>;
  if (entry === '--websocket') {
    if (typeof module.websocket !== 'function') throw new Error(`${file} has no \`export function websocket\``);
    await callWebSocket(module.websocket as WebSocketHandler, env, process.stdin, process.stdout);
  } else {
    await (module.default as Handler)({ env, stdin: process.stdin, stdout: process.stdout });
  }
  // The response is complete when the handler settles, even if it left timers or sockets open.
  process.stdout.write('', () => process.exit(0));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.stdout.write('', () => process.exit(1));
}
