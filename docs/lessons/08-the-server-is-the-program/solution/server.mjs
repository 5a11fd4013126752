// server.mjs: the server is the program (Node.js, 2009). No web server in front, no process per
// request: one process, one event loop, and a function called for every request.
//
//   GET  /greet?name=Ada   → "Hello, Ada!"  (lesson 2's greet.sh)
//   GET  /guestbook        → the page, every entry escaped (lesson 3's guestbook)
//   POST /guestbook        → keep the entry, 303 See Other back to the page
import { appendFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';

// A file beside this one, not an array: the process can crash or be restarted, and the
// entries must outlive it (as they outlived every CGI process).
const book = new URL('./guestbook.jsonl', import.meta.url);

const escapeHtml = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': type, ...headers });
  res.end(body);
}

async function entries() {
  const text = await readFile(book, 'utf8').catch((error) => (error.code === 'ENOENT' ? '' : Promise.reject(error)));
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

async function bodyOf(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function greet(url, res) {
  const name = url.searchParams.get('name');
  if (!name) return send(res, 400, 'text/plain', 'Whom should I greet? Ask for ?name=Ada\n');
  send(res, 200, 'text/plain', `Hello, ${name}!\n`);
}

async function guestbook(req, res) {
  if (req.method === 'POST') {
    const form = new URLSearchParams(await bodyOf(req));
    await appendFile(book, `${JSON.stringify({ name: form.get('name') ?? '', message: form.get('message') ?? '' })}\n`);
    // The Location is our own path: nothing the visitor typed goes into a header.
    return send(res, 303, 'text/plain', 'Thank you. The guestbook is at /guestbook\n', { Location: '/guestbook' });
  }
  if (req.method === 'GET' || req.method === 'HEAD') {
    const items = (await entries()).map((e) => `<li><b>${escapeHtml(e.name)}</b>: ${escapeHtml(e.message)}</li>\n`).join('');
    return send(res, 200, 'text/html; charset=utf-8', `<!doctype html><title>Guestbook</title><h1>Guestbook</h1>\n<ul>\n${items}</ul>\n`);
  }
  send(res, 405, 'text/plain', `${req.method} is not allowed here\n`, { Allow: 'GET, POST' });
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  try {
    if (url.pathname === '/greet') return greet(url, res);
    if (url.pathname === '/guestbook') return await guestbook(req, res);
    send(res, 404, 'text/plain', `nothing at ${url.pathname}\n`);
  } catch (error) {
    // One request failed; the process, and every other request, goes on. Without this catch a
    // rejected promise here would end the whole server (CGI lost only the one request: a 502).
    console.error(error);
    if (!res.headersSent) send(res, 500, 'text/plain', 'something went wrong\n');
    else res.destroy();
  }
});

server.listen(Number(process.env.PORT ?? 8000), '127.0.0.1');
