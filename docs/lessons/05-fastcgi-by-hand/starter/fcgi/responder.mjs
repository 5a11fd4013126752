// responder.mjs: a FastCGI responder written with node:net only (FastCGI 1.0, Open Market, 1996).
// The web server connects to PORT and sends records: an 8-byte header (version, type, request
// id, content length, padding length, reserved), then the content and the padding.
//
// TODO: for each request (BEGIN_REQUEST, PARAMS until an empty PARAMS record, STDIN until an
//       empty STDIN record) answer with STDOUT records holding
//         Content-Type: text/plain
//
//         REQUEST_METHOD=…
//         QUERY_STRING=…
//         BODY_LENGTH=…          (the bytes that came on STDIN)
//
//         …the request body itself
//       then an empty STDOUT record and END_REQUEST. Keep the connection open when the
//       BEGIN_REQUEST flags ask for it (FCGI_KEEP_CONN).
import { createServer } from 'node:net';

const server = createServer((socket) => {
  socket.on('data', (chunk) => {
    // For now it hangs up on every web server. TODO: parse the records in `chunk` and answer.
    socket.end();
  });
  socket.on('error', () => {});
});
server.listen(Number(process.env.PORT), '127.0.0.1');
