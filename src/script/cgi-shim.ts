/**
 * Runs a handler script as a CGI program (DESIGN.md, "The script contract"): one process, one
 * call with this process's environment, stdin and stdout, then exit. Module-level state
 * therefore starts fresh for every request under CGI, unlike FastCGI and embedded mode.
 *
 * usage: node cgi-shim.js HANDLER_FILE
 */
import { pathToFileURL } from 'node:url';
import type { Handler } from './handler.ts';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: cgi-shim HANDLER_FILE\n');
  process.exit(2);
}

try {
  const handler = (await import(pathToFileURL(file).href)).default as Handler;
  await handler({ env: { ...process.env } as Record<string, string>, stdin: process.stdin, stdout: process.stdout });
  // The response is complete when the handler settles, even if it left timers or sockets open.
  process.stdout.write('', () => process.exit(0));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.stdout.write('', () => process.exit(1));
}
