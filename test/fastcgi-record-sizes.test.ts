/**
 * STDOUT in records of any size, cut anywhere: a responder someone else wrote chooses its own
 * record size (libfcgi and the lesson's responder: 32 KiB; Go: up to 65535), and the bytes reach
 * us in whatever pieces TCP makes of them. Once, a 71 KB body answered in 32768-byte records
 * reached the HTTP client as its first 32740 bytes: the records were parsed right, but the
 * response ended (Node wrote the last chunk) before the chunks still held by the gateway's
 * cork were written. So each size is checked at both ends: what the FastCGI client hands on,
 * and what an HTTP client of `serve --mode fastcgi --fastcgi-connect` receives.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { after, describe, it } from 'node:test';
import { createFastCgiMode } from '../modes/fastcgi/index.ts';
import { FastCgiClient } from '../src/fastcgi/client.ts';
import { RecordType } from '../src/fastcgi/protocol.ts';
import { encodeEndRequestBody, encodeRecords, record, RecordParser, type FcgiRecord } from '../src/fastcgi/records.ts';
import { listen } from '../src/io/listen.ts';
import { get, rawRequest } from './support/http.ts';
import { startTestServer } from './support/server.ts';

const head = Buffer.from('Content-Type: application/octet-stream\r\n\r\n');
/** 71 KB of bytes that say where they are, so a lost or repeated piece shows. */
const body = Buffer.from(Array.from({ length: 71_680 / 8 }, (_, i) => `${i.toString(16).padStart(7, '0')}\n`).join(''));
const output = Buffer.concat([head, body]);

/** Record sizes: tiny, odd, padded and not, the 32 KiB libfcgi writes, the spec's largest. */
const recordSizes = [1000, 4093, 30_000, 32_768, 65_535];
/** How the responder writes its answer: at once, or in pieces cut across record boundaries. */
const writeSizes = [Infinity, 7, 4096 + 3, 32_768];

/**
 * A FastCGI responder that answers every request with `output`, in STDOUT records of
 * `recordSize` bytes, written in pieces of `writeSize` (each in a turn of its own).
 */
async function responder(recordSize: number, writeSize: number): Promise<{ address: string; server: Server }> {
  const server = createServer((socket: Socket) => {
    socket.on('error', () => {});
    const parser = new RecordParser();
    socket.on('data', (chunk) =>
      parser.feed(chunk, (r) => {
        if (r.type === RecordType.GET_VALUES) socket.write(encodeRecords([record(RecordType.GET_VALUES_RESULT, 0)]));
        if (r.type !== RecordType.STDIN || r.content.length > 0) return;
        const records: FcgiRecord[] = [];
        for (let at = 0; at < output.length; at += recordSize) records.push(record(RecordType.STDOUT, r.requestId, output.subarray(at, at + recordSize)));
        records.push(record(RecordType.STDOUT, r.requestId), record(RecordType.END_REQUEST, r.requestId, encodeEndRequestBody(0, 0)));
        void writeInPieces(socket, encodeRecords(records), writeSize);
      }),
    );
  });
  await listen(server, { host: '127.0.0.1', port: 0 });
  const { port } = server.address() as { port: number };
  return { address: `tcp:127.0.0.1:${port}`, server };
}

async function writeInPieces(socket: Socket, bytes: Buffer, size: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += size) {
    socket.write(bytes.subarray(at, at + size));
    if (size !== Infinity) await new Promise((resolve) => setImmediate(resolve));
  }
}

const params = { REQUEST_METHOD: 'GET', SCRIPT_NAME: '/cgi-bin/app', QUERY_STRING: '' };

describe('FastCGI: STDOUT in records of any size, cut anywhere, arrives whole', () => {
  for (const recordSize of recordSizes) {
    for (const writeSize of writeSizes) {
      const shape = `${recordSize}-byte records, written ${writeSize === Infinity ? 'at once' : `in ${writeSize}-byte pieces`}`;

      it(`the client hands on every byte: ${shape}`, async () => {
        const { address, server } = await responder(recordSize, writeSize);
        const client = new FastCgiClient(address);
        try {
          const response = client.request({ params });
          const [got] = await Promise.all([buffer(response.stdout), response.ended]);
          assert.equal(got.length, output.length);
          assert.ok(got.equals(output), 'the same bytes, in order');
        } finally {
          await client.close();
          server.close();
        }
      });

      it(`an HTTP client of --fastcgi-connect gets the whole body: ${shape}`, async () => {
        const { address, server } = await responder(recordSize, writeSize);
        const web = await startTestServer(
          ({ cgiBin, logger }) => createFastCgiMode({ cgiBin, logger, connect: address, pm: 'static', maxRequests: 0, trace: false }),
          { 'app.js': 'export default () => {};\n' }, // a file for /cgi-bin/app.js to name; the application answers for it
        );
        after(() => server.close());
        try {
          const answer = await rawRequest(web.port, get('/cgi-bin/app.js'), 10_000);
          assert.equal(answer.status, 200);
          assert.ok(answer.complete, 'the response ended as HTTP frames it (its last chunk), not cut');
          assert.equal(answer.body.length, body.length);
          assert.ok(answer.body.equals(body), 'the same bytes, in order');
        } finally {
          await web.stop();
        }
      });
    }
  }
});
