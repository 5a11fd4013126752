/**
 * The in-process ceiling for the benchmark's peers: a plain node:http server answering hello
 * from the server process itself, with no CGI, no script and no router. Whatever webhist's
 * embedded mode adds on top of this is the price of the CGI contract.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const body = 'Hello, world from node:http\n';
const server = createServer({ keepAlive: true }, (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`node:http hello on http://127.0.0.1:${(server.address() as AddressInfo).port}/\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
