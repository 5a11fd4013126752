// server.mjs: the server is the program (Node.js, 2009). One process, one event loop, and this
// function called for every request — no web server in front, no process per request.
//
// TODO: GET /greet?name=X  → 200 text/plain "Hello, X!\n"; no name → 400 (lesson 2's greet.sh)
//       GET /guestbook     → 200 text/html, every entry with & < > " escaped (lesson 3)
//       POST /guestbook    → keep name and message (in a file beside this one), 303, Location: /guestbook
//       anything else on /guestbook → 405 with Allow: GET, POST
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('Hello, world\n');
});

// The checker gives you a port in PORT; by hand: PORT=8000 node server.mjs
server.listen(Number(process.env.PORT ?? 8000), '127.0.0.1');
