/**
 * The least a Node web server can do in front of a FastCGI application, as a measuring stick
 * for the benchmark's peers: node:http and our FastCGI client, a dozen fixed params, the
 * response head split at its blank line. No CGI environment from the request, no checks, no
 * time limit, no streaming, no error answers: nothing anyone should serve with. What webhist's
 * fastcgi mode costs beyond this is its gateway's; what this costs beyond nginx is Node's.
 *
 * usage: node fastcgi-floor.ts unix:SOCKET CGI_BIN   (serves /cgi-bin/NAME as CGI_BIN/NAME)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FastCgiClient } from '../../src/fastcgi/client.ts';

const [address, cgiBin] = process.argv.slice(2) as [string, string];
const client = new FastCgiClient(address);

const server = createServer({ keepAlive: true }, (req, res) => {
  const name = req.url!.slice('/cgi-bin'.length).split('?')[0]!;
  const { stdout } = client.request({
    params: {
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      REQUEST_METHOD: req.method!,
      REQUEST_URI: req.url!,
      SCRIPT_NAME: `/cgi-bin${name}`,
      SCRIPT_FILENAME: `${cgiBin}${name}`,
      QUERY_STRING: '',
      REMOTE_ADDR: req.socket.remoteAddress!,
      REMOTE_PORT: String(req.socket.remotePort),
      SERVER_NAME: 'localhost',
      SERVER_PORT: String(req.socket.localPort),
      HTTP_HOST: req.headers.host ?? '',
    },
  });
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  stdout.on('error', () => res.destroy());
  stdout.on('end', () => {
    const output = Buffer.concat(chunks);
    const blank = output.indexOf('\r\n\r\n');
    for (const line of output.toString('latin1', 0, blank).split('\r\n')) {
      const colon = line.indexOf(':');
      res.setHeader(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    res.end(output.subarray(blank + 4));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`fastcgi floor on http://127.0.0.1:${(server.address() as AddressInfo).port}/\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
