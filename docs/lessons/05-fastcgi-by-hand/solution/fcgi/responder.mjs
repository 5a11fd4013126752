// responder.mjs: a FastCGI responder written with node:net only (FastCGI 1.0, Open Market, 1996).
// It answers every request with its method, query and body length, then the body itself.
import { createServer } from 'node:net';

// Record types (§8) and the one flag (§5.1).
const BEGIN_REQUEST = 1,
  ABORT_REQUEST = 2,
  END_REQUEST = 3,
  PARAMS = 4,
  STDIN = 5,
  STDOUT = 6;
const GET_VALUES = 9,
  GET_VALUES_RESULT = 10,
  UNKNOWN_TYPE = 11;
const KEEP_CONN = 1;

// §3.3: a header of 8 bytes, the content, then padding to a multiple of 8 (recommended).
function encode(type, id, content = Buffer.alloc(0)) {
  const padding = -content.length & 7;
  const header = Buffer.from([1, type, id >> 8, id & 255, content.length >> 8, content.length & 255, padding, 0]);
  return Buffer.concat([header, content, Buffer.alloc(padding)]);
}

// §3.4: each length is one byte up to 127, else four bytes with the top bit set.
function decodePairs(bytes) {
  const pairs = {};
  let at = 0;
  const length = () => {
    if (bytes[at] < 128) return bytes[at++];
    const n = bytes.readUInt32BE(at) & 0x7fffffff;
    at += 4;
    return n;
  };
  while (at < bytes.length) {
    const nameLength = length();
    const valueLength = length();
    const name = bytes.toString('latin1', at, at + nameLength);
    at += nameLength;
    pairs[name] = bytes.toString('utf8', at, at + valueLength);
    at += valueLength;
  }
  return pairs;
}

function encodePairs(pairs) {
  const length = (n) => (n < 128 ? Buffer.from([n]) : Buffer.from([(n >>> 24) | 128, (n >> 16) & 255, (n >> 8) & 255, n & 255]));
  return Buffer.concat(Object.entries(pairs).flatMap(([k, v]) => [length(Buffer.byteLength(k)), length(Buffer.byteLength(v)), Buffer.from(k), Buffer.from(v)]));
}

function answer(request) {
  const { REQUEST_METHOD = '', QUERY_STRING = '' } = decodePairs(Buffer.concat(request.params));
  const body = Buffer.concat(request.stdin);
  const head = `Content-Type: text/plain\r\n\r\nREQUEST_METHOD=${REQUEST_METHOD}\nQUERY_STRING=${QUERY_STRING}\nBODY_LENGTH=${body.length}\n\n`;
  const output = Buffer.concat([Buffer.from(head), body]);
  const records = [];
  // A stream's records carry at most 65535 bytes each, and an empty record ends it.
  for (let at = 0; at < output.length; at += 65535) records.push(encode(STDOUT, request.id, output.subarray(at, at + 65535)));
  records.push(encode(STDOUT, request.id));
  records.push(encode(END_REQUEST, request.id, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]))); // appStatus 0, REQUEST_COMPLETE
  // One write for the whole group: small separate writes meet Nagle's algorithm and delayed ACKs.
  return Buffer.concat(records);
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => {}); // a web server that hangs up must not crash us
  let pending = Buffer.alloc(0);
  const requests = new Map();
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const type = pending[1];
      const id = pending.readUInt16BE(2);
      const contentLength = pending.readUInt16BE(4);
      const total = 8 + contentLength + pending[6];
      if (pending.length < total) break;
      const content = pending.subarray(8, 8 + contentLength);
      pending = pending.subarray(total);

      if (id === 0) {
        // Management records (§4): say what we are, or that we do not know the type.
        if (type === GET_VALUES) socket.write(encode(GET_VALUES_RESULT, 0, encodePairs({ FCGI_MPXS_CONNS: '0', FCGI_MAX_CONNS: '100', FCGI_MAX_REQS: '100' })));
        else socket.write(encode(UNKNOWN_TYPE, 0, Buffer.from([type, 0, 0, 0, 0, 0, 0, 0])));
        continue;
      }
      if (type === BEGIN_REQUEST) {
        requests.set(id, { id, keep: (content[2] & KEEP_CONN) !== 0, params: [], stdin: [] });
        continue;
      }
      const request = requests.get(id);
      if (!request) continue;
      if (type === PARAMS && contentLength) request.params.push(Buffer.from(content));
      else if (type === STDIN && contentLength) request.stdin.push(Buffer.from(content));
      else if (type === STDIN || type === ABORT_REQUEST) {
        // The empty STDIN record: the whole request is here.
        requests.delete(id);
        socket.write(answer(request));
        if (!request.keep) socket.end();
      }
    }
  });
});

server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
