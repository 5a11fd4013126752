/**
 * Learners' own work, not the reference: a correct solution written another way passes, and a
 * near miss fails with a reason that says what to change — the words a learner will read.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { lesson, reasons, verifyWith } from './support/learn-workspace.ts';

async function passes(n: number, files: Parameters<typeof verifyWith>[2]) {
  const result = await verifyWith(n, 'solution', files);
  assert.equal(result.status, 'pass', reasons(result));
}

async function failsSaying(n: number, files: Parameters<typeof verifyWith>[2], pattern: RegExp) {
  const result = await verifyWith(n, 'solution', files);
  assert.equal(result.status, 'fail');
  assert.match(reasons(result), pattern);
}

/**
 * A near miss made from the reference solution: each [from, to] replaced once (asserted to still
 * apply, so the test cannot pass on a reference that changed under it).
 */
function nearMiss(n: number, path: string, changes: [string, string][], executable = false) {
  let text = readFileSync(join(lesson(n).dir, 'solution', path), 'utf8');
  for (const [from, to] of changes) {
    assert.ok(text.includes(from), `lesson ${n}'s ${path} still contains ${from}`);
    text = text.replace(from, to);
  }
  return { [path]: { text, executable } };
}

const page = (title: string, link: string) => ({ text: `<html><title>${title}</title><body><a href='${link}'>go</a></body></html>\n`, executable: false });

describe('lesson 1: a request is just text', { concurrency: true }, () => {
  it('passes with other pages and a request with more header fields (Connection: close, Accept)', () =>
    passes(1, {
      'site/index.html': page('Home', '/about.html'),
      'site/about.html': page('About', '/'),
      'request.txt': { text: 'GET /about.html HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nConnection: close\r\n\r\n', executable: false },
    }));

  it('says CR LF when request.txt was saved with LF alone', () =>
    failsSaying(
      1,
      { 'request.txt': { text: 'GET /about.html HTTP/1.1\nHost: localhost\n\n', executable: false } },
      /ends in LF \(\\n\) alone; HTTP lines end in CR LF/,
    ));

  it('says Host when the request has none', () =>
    failsSaying(1, { 'request.txt': { text: 'GET /about.html HTTP/1.1\r\n\r\n', executable: false } }, /no Host field; HTTP\/1\.1 requires one/));

  it('says which link is missing', () =>
    failsSaying(1, { 'site/about.html': page('About', '/index.html') }, /no link back to the home page: add <a href="\/">/));
});

describe('lesson 2: a backend is just a program', { concurrency: true }, () => {
  it('passes in Python', () =>
    passes(2, {
      'cgi-bin/greet.sh': `#!/usr/bin/env python3
import os, sys
from urllib.parse import parse_qs
name = parse_qs(os.environ.get('QUERY_STRING', '')).get('name', [''])[0]
if not name:
    sys.stdout.write('Status: 400 Bad Request\\r\\nContent-Type: text/plain\\r\\n\\r\\nno name\\n')
else:
    sys.stdout.buffer.write(('Content-Type: text/plain; charset=utf-8\\r\\n\\r\\nHello, %s!\\n' % name).encode())
`,
    }));

  it('passes in Perl, with LF-only header lines (RFC 3875 allows them)', () =>
    passes(2, {
      'cgi-bin/greet.sh': `#!/usr/bin/perl
use strict;
my %q = map { my ($k, $v) = split /=/, $_, 2; $v = '' unless defined $v; $v =~ tr/+/ /; $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; ($k, $v) } split /&/, ($ENV{QUERY_STRING} // '');
if (!length($q{name} // '')) { print "Status: 400\\nContent-Type: text/plain\\n\\nno name\\n"; exit }
print "Content-Type: text/plain\\n\\nHello, $q{name}!\\n";
`,
    }));

  const sh = (greeting: string, missing = 'printf "Status: 400 Bad Request\\r\\n"') => `#!/bin/sh
name=$(printf '%s' "$QUERY_STRING" | tr '&' '\\n' | sed -n 's/^name=//p' | head -n 1)
[ -z "$name" ] && { ${missing}; printf 'Content-Type: text/plain\\r\\n\\r\\nno name\\n'; exit 0; }
name=$(printf '%s' "$name" | sed 's/%20/ /g; s/%C3%89/\\xc3\\x89/g; s/%27/'"'"'/g')
printf 'Content-Type: text/plain\\r\\n\\r\\n'
${greeting}
`;

  it('a near miss: no newline after the greeting', () =>
    failsSaying(
      2,
      { 'cgi-bin/greet.sh': sh(`printf 'Hello, %s!' "$(printf '%s' "$name" | tr '+' ' ')"`) },
      /lacks the newline at the end\. echo adds one; printf needs \\n/,
    ));

  it('a near miss: + left as it came', () =>
    failsSaying(2, { 'cgi-bin/greet.sh': sh(`printf 'Hello, %s!\\n' "$name"`) }, /Grace\+Hopper.*a \+ in a query string stands for a space/));

  it('a near miss: 200 where there is no name', () =>
    failsSaying(
      2,
      { 'cgi-bin/greet.sh': sh(`printf 'Hello, %s!\\n' "$(printf '%s' "$name" | tr '+' ' ')"`, 'true') },
      /expected status 400, got 200 OK\. With no name there is nobody to greet: print the header line "Status: 400 Bad Request"/,
    ));

  it('a near miss: no empty line after the header', () =>
    failsSaying(
      2,
      { 'cgi-bin/greet.sh': `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nHello, Ada Lovelace!\\n'\n` },
      /no empty line after the header lines[\s\S]*expected status 200, got 502 Bad Gateway \(the server could not read the script's output as a CGI response; the error log says: /,
    ));
});

describe('lesson 3: forms, POST, redirects', { concurrency: true }, () => {
  /** A guestbook as a JavaScript handler, with switches to make each near miss. */
  const guestbook = (options: { escape?: boolean; postStatus?: string; allow?: boolean; location?: string } = {}) => ({
    'cgi-bin/guestbook.py': { text: '', executable: false },
    'cgi-bin/guestbook.mjs': `import { appendFileSync, readFileSync } from 'node:fs';
const book = new URL('./entries.jsonl', import.meta.url);
const escape = (s) => ${options.escape === false ? 's' : "s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\"/g, '&quot;')"};
export default async function ({ env, stdin, stdout }) {
  if (env.REQUEST_METHOD === 'POST') {
    let body = '';
    for await (const chunk of stdin) body += chunk;
    const form = new URLSearchParams(body);
    appendFileSync(book, JSON.stringify({ name: form.get('name'), message: form.get('message') }) + '\\n');
    stdout.write('Status: ${options.postStatus ?? '303 See Other'}\\r\\nLocation: ' + ${options.location ?? 'env.SCRIPT_NAME'} + '\\r\\n\\r\\n');
  } else if (env.REQUEST_METHOD === 'GET') {
    let entries = [];
    try { entries = readFileSync(book, 'utf8').trim().split('\\n').map((line) => JSON.parse(line)); } catch {}
    stdout.write('Content-Type: text/html\\r\\n\\r\\n<ul>' + entries.map((e) => '<li>' + escape(e.name) + ': ' + escape(e.message)).join('') + '</ul>');
  } else {
    stdout.write('Status: 405 Method Not Allowed\\r\\n${options.allow === false ? '' : 'Allow: GET, POST\\r\\n'}\\r\\n');
  }
}
`,
  });

  it('passes as a JavaScript handler keeping its entries in a JSON-lines file', () => passes(3, guestbook()));

  it('a near miss: entries printed unescaped', () =>
    failsSaying(3, guestbook({ escape: false }), /the page contains <script>alert\(".*"\) as it was sent: .*Escape & < > "/));

  it('a near miss: 200 after a POST', () =>
    failsSaying(3, guestbook({ postStatus: '200 OK' }), /expected status 303, got 200 OK\. After a POST, answer "Status: 303 See Other"/));

  it('a near miss: the name copied into Location', () =>
    failsSaying(
      3,
      guestbook({ location: "env.SCRIPT_NAME + '?thanks=' + form.get('name')" }),
      /there should be no Set-Cookie header field, but there is one: "session=.*"\. A name written into a header line .* keep visitors' input out of your headers/,
    ));

  it('a near miss: 405 without Allow', () =>
    failsSaying(3, guestbook({ allow: false }), /no Allow header field; expected \/\^GET,\\s\*POST\$\/\. A 405 says which methods would work/));
});

describe('lesson 4: server push', { concurrency: true }, () => {
  const python = (flush: boolean, close = true) => ({
    'cgi-bin/nph-countdown.sh': `#!/usr/bin/env python3
import os, sys, time
out = sys.stdout
out.write(os.environ.get('SERVER_PROTOCOL', 'HTTP/1.0') + ' 200 OK\\r\\nContent-Type: multipart/x-mixed-replace; boundary="T-minus"\\r\\n\\r\\n')
for i, word in enumerate(['3', '2', '1', 'liftoff']):
    if i: time.sleep(1)
    out.write('--T-minus\\r\\nContent-Type: text/plain; charset=us-ascii\\r\\n\\r\\n' + word + '\\r\\n')
    ${flush ? 'out.flush()' : 'pass'}
${close ? "out.write('--T-minus--\\r\\n')" : ''}
`,
  });

  it('passes in Python, flushing each part, with a quoted boundary', () => passes(4, python(true)));

  it('a near miss: buffered output (every part arrives at the end)', () =>
    failsSaying(4, python(false), /the gaps between parts were \d+, \d+, \d+ ms: .*flush each part as you write it/));

  it('a near miss: no closing boundary', () => failsSaying(4, python(true, false), /the body never closes: after the last part write --T-minus--/));
});

describe('lesson 5: FastCGI by hand', { concurrency: true }, () => {
  it('passes with a responder of another shape: records read by an async generator, no padding, GET_VALUES unanswered', () =>
    passes(5, {
      'fcgi/responder.mjs': {
        executable: false,
        text: `import { createServer } from 'node:net';
async function* records(socket) {
  let buffer = Buffer.alloc(0);
  for await (const chunk of socket) {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 8) break;
      const length = buffer.readUInt16BE(4), end = 8 + length + buffer[6];
      if (buffer.length < end) break;
      yield { type: buffer[1], id: buffer.readUInt16BE(2), flags: buffer[10], content: buffer.subarray(8, 8 + length) };
      buffer = buffer.subarray(end);
    }
  }
}
const header = (type, id, length) => Buffer.from([1, type, 0, id, length >> 8, length & 255, 0, 0]);
function pairs(bytes) {
  const out = new Map();
  for (let i = 0; i < bytes.length; ) {
    const len = () => (bytes[i] & 128 ? ((i += 4), bytes.readUInt32BE(i - 4) & 0x7fffffff) : bytes[i++]);
    const n = len(), v = len();
    out.set(bytes.toString('latin1', i, i + n), bytes.toString('latin1', i + n, i + n + v));
    i += n + v;
  }
  return out;
}
createServer(async (socket) => {
  socket.on('error', () => {});
  let keep = false, params = [], stdin = [];
  for await (const r of records(socket)) {
    if (r.type === 1) { keep = (r.content[2] & 1) === 1; params = []; stdin = []; }
    else if (r.type === 4) params.push(r.content);
    else if (r.type === 5 && r.content.length) stdin.push(r.content);
    else if (r.type === 5) {
      const env = pairs(Buffer.concat(params)), body = Buffer.concat(stdin);
      const out = Buffer.concat([Buffer.from('Content-type: text/plain\\n\\nREQUEST_METHOD=' + env.get('REQUEST_METHOD') + '\\nQUERY_STRING=' + env.get('QUERY_STRING') + '\\nBODY_LENGTH=' + body.length + '\\n\\n'), body]);
      const parts = [];
      for (let at = 0; at < out.length; at += 32768) { const piece = out.subarray(at, at + 32768); parts.push(header(6, r.id, piece.length), piece); }
      parts.push(header(6, r.id, 0), header(3, r.id, 8), Buffer.alloc(8));
      socket.write(Buffer.concat(parts));
      if (!keep) socket.end();
    }
  }
}).listen(+process.env.PORT, '127.0.0.1');
`,
      },
    }));

  it('a near miss: every length read as one byte', () =>
    failsSaying(
      5,
      nearMiss(5, 'fcgi/responder.mjs', [['if (bytes[at] < 128) return bytes[at++];', 'return bytes[at++];']]),
      /HTTP_X_LONG is 300 bytes long, so its length takes 4 bytes \(§3\.4\)/,
    ));

  it('a near miss: the connection closed after every request', () =>
    failsSaying(
      5,
      nearMiss(5, 'fcgi/responder.mjs', [['if (!request.keep) socket.end();', 'socket.end();']]),
      /closed the connection after 1 request\(s\), although FCGI_KEEP_CONN asked it to keep it open/,
    ));

  it('a near miss: the responder does not start', () =>
    failsSaying(
      5,
      nearMiss(5, 'fcgi/responder.mjs', [["server.listen(Number(process.env.PORT), '127.0.0.1');", "throw new Error('not today');"]]),
      /your responder \(node fcgi\/responder\.mjs, PORT=\d+\): it exited before it listened on port \d+: Node\.js v24|your responder .*it exited before it listened/,
    ));
});

describe('lesson 6: the script inside the server', { concurrency: true }, () => {
  it('passes written another way: a counter object, the query read with a regular expression', () =>
    passes(6, {
      'cgi-bin/visits.js': {
        executable: false,
        text: `const counter = { n: 0 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export default async ({ env, stdout }) => {
  const n = ++counter.n;
  const field = (key) => decodeURIComponent((new RegExp('(?:^|&)' + key + '=([^&]*)').exec(env.QUERY_STRING) || [])[1] || '');
  const who = field('name');
  await sleep(Math.min(+field('wait') || 0, 5000));
  stdout.write('Content-Type: text/plain; charset=utf-8\\r\\n\\r\\n' + ['Hello, ' + who, 'served=' + n + ' pid=' + process.pid].join('\\n') + '\\n');
};
`,
      },
    }));

  it('a near miss: the name kept at module level across the await (fails embedded, says why)', () =>
    failsSaying(
      6,
      {
        'cgi-bin/visits.js': {
          executable: false,
          text: `let served = 0;
let name;
export default async function ({ env, stdout }) {
  const count = ++served;
  const query = new URLSearchParams(env.QUERY_STRING);
  name = query.get('name');
  await new Promise((r) => setTimeout(r, Number(query.get('wait')) || 0));
  stdout.write('Content-Type: text/plain\\r\\n\\r\\nHello, ' + name + '\\nserved=' + count + ' pid=' + process.pid + '\\n');
}
`,
        },
      },
      /embedded: two overlapping requests never see each other's name: the request for \w+ \(waiting 600 ms\) was answered "Hello, \w+": a name kept at module level was overwritten/,
    ));

  it('a near miss: the count kept inside the handler (always 1)', () =>
    failsSaying(
      6,
      {
        'cgi-bin/visits.js': {
          executable: false,
          text: `export default async function ({ env, stdout }) {
  let served = 0;
  served++;
  const name = new URLSearchParams(env.QUERY_STRING).get('name');
  stdout.write('Content-Type: text/plain\\r\\n\\r\\nHello, ' + name + '\\nserved=' + served + ' pid=' + process.pid + '\\n');
}
`,
        },
      },
      /embedded: eight requests .*Process \d+ served 1, 1, .*each request to the same process should add exactly 1 \(keep the count at module level, outside the handler\)/,
    ));
});

describe('lesson 7: gateways and frameworks', { concurrency: true }, () => {
  it('passes written another way: a small router class, the items in SQLite', () =>
    passes(7, {
      'app.py': {
        executable: false,
        text: `import json, os, sqlite3

DB = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'items.sqlite')

class App:
    def __init__(self):
        self.routes = {('GET', '/items'): self.index, ('POST', '/items'): self.create}

    def db(self):
        con = sqlite3.connect(DB)
        con.execute('create table if not exists items (id integer primary key, name text)')
        return con

    def index(self, environ):
        with self.db() as con:
            rows = con.execute('select id, name from items order by id').fetchall()
        return '200 OK', [dict(id=i, name=n) for i, n in rows], []

    def create(self, environ):
        size = int(environ.get('CONTENT_LENGTH') or '0')
        name = json.loads(environ['wsgi.input'].read(size))['name']
        with self.db() as con:
            new = con.execute('insert into items (name) values (?)', (name,)).lastrowid
        return '201 Created', {'name': name, 'id': new}, [('Location', environ['SCRIPT_NAME'] + '/items/%d' % new)]

    def __call__(self, environ, start_response):
        route = self.routes.get((environ['REQUEST_METHOD'], environ.get('PATH_INFO', '')))
        status, value, headers = route(environ) if route else ('404 Not Found', {}, [])
        start_response(status, [('Content-Type', 'application/json; charset=utf-8')] + headers)
        yield json.dumps(value).encode()

application = App()
`,
      },
    }));

  it('a near miss: the items in a Python list (remembered by wsgiref, forgotten under CGI)', () =>
    failsSaying(
      7,
      nearMiss(7, 'app.py', [['def load():\n    try:', '_items = []\n\n\ndef load():\n    return _items\n    try:']]),
      /POST answered \{"id":1,"name":".*"\}, but the next GET lists \[\]: under CGI every request is a new process, so a Python list starts empty each time\. Keep the items in a file beside app\.py/,
    ));

  it('a near miss: the body read to its end (works under CGI, hangs under wsgiref)', () =>
    failsSaying(
      7,
      nearMiss(7, 'app.py', [["environ['wsgi.input'].read(length)", "environ['wsgi.input'].read()"]]),
      /under wsgiref, POST \/items: no complete response within \d+s\. .*read exactly int\(environ\.get\('CONTENT_LENGTH'\) or 0\) bytes/,
    ));

  it('a near miss: Location written for the CGI mount only', () =>
    failsSaying(
      7,
      nearMiss(7, 'app.py', [["f\"{environ.get('SCRIPT_NAME', '')}/items/", 'f"/cgi-bin/items.py/items/']]),
      /under wsgiref, POST \/items: Location is "\/cgi-bin\/items\.py\/items\/\d+"; expected \/items\/\d+: the mount point \(environ\['SCRIPT_NAME'\], "" here\)/,
    ));
});

describe('lesson 8: the server is the program', { concurrency: true }, () => {
  it('passes written another way: callbacks and a route table, entries in a tab-separated file', () =>
    passes(8, {
      'server.mjs': {
        executable: false,
        text: `import http from 'node:http';
import fs from 'node:fs';
const file = new URL('entries.tsv', import.meta.url);
const html = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const flat = (s) => (s || '').replace(/[\\t\\r\\n]/g, ' ');
const routes = {
  'GET /greet'(req, res, url) {
    const who = url.searchParams.get('name');
    res.statusCode = who ? 200 : 400;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(who ? 'Hello, ' + who + '!\\n' : 'name?\\n');
  },
  'GET /guestbook'(req, res) {
    fs.readFile(file, 'utf8', (err, text) => {
      const rows = err ? [] : text.split('\\n').filter(Boolean).map((l) => l.split('\\t'));
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<ul>' + rows.map(([n, m]) => '<li>' + html(n) + ' said ' + html(m) + '</li>').join('') + '</ul>');
    });
  },
  'POST /guestbook'(req, res) {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const f = new URLSearchParams(body);
      fs.appendFile(file, flat(f.get('name')) + '\\t' + flat(f.get('message')) + '\\n', () => {
        res.writeHead(303, { location: 'http://' + req.headers.host + '/guestbook' });
        res.end();
      });
    });
  },
};
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const route = routes[req.method + ' ' + url.pathname];
  if (route) return route(req, res, url);
  if (url.pathname === '/guestbook') { res.writeHead(405, { allow: 'GET, POST' }); return res.end(); }
  res.writeHead(404); res.end();
}).listen(process.env.PORT, '127.0.0.1');
`,
      },
    }));

  it('a near miss: the entries kept in an array (lost when the process goes)', () =>
    failsSaying(
      8,
      nearMiss(8, 'server.mjs', [
        [
          "await appendFile(book, `${JSON.stringify({ name: form.get('name') ?? '', message: form.get('message') ?? '' })}\\n`);",
          "kept.push({ name: form.get('name') ?? '', message: form.get('message') ?? '' });",
        ],
        ['async function entries() {', 'const kept = [];\nasync function entries() {\n  return kept;'],
      ]),
      /the page after a restart should contain "Grace [^"]+"[\s\S]*keep the entries in a file beside server\.mjs, not in an array/,
    ));

  it('a near miss: entries written into the page unescaped', () =>
    failsSaying(
      8,
      nearMiss(8, 'server.mjs', [
        ["const escapeHtml = (text) => String(text).replace(/&/g, '&amp;')", "const escapeHtml = (text) => String(text); String('').replace(/&/g, '&amp;')"],
      ]),
      /your page contains .*<script>alert.* as it was sent: .*Escape & < > "/,
    ));

  it('a near miss: the name copied into Location, and no catch — Node refuses the CR LF by throwing, and the error ends the whole server', () =>
    failsSaying(
      8,
      nearMiss(8, 'server.mjs', [
        ["{ Location: '/guestbook' });", "{ Location: `/guestbook?from=${form.get('name')}` });"],
        ["console.error(error);\n    if (!res.headersSent) send(res, 500, 'text/plain', 'something went wrong\\n');\n    else res.destroy();", 'throw error;'],
      ]),
      /server\.mjs: .*your server is no longer running: an error thrown while answering ended the whole process \(under CGI it would have cost this one request a 502\)/,
    ));
});

describe('lesson 9: resources and verbs', { concurrency: true }, () => {
  it('passes as a plain Python CGI program (one file per note, ids from O_EXCL); embedded says loudly why it is skipped', async () => {
    const result = await verifyWith(9, 'empty', {
      'cgi-bin/notes.py': `#!/usr/bin/env python3
import json, os, sys
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'notes-py')
os.makedirs(HERE, exist_ok=True)
method, path, me = os.environ['REQUEST_METHOD'], os.environ.get('PATH_INFO', ''), os.environ['SCRIPT_NAME']

def out(status, value=None, **headers):
    lines = ['Status: ' + status] + ['%s: %s' % kv for kv in headers.items()]
    if value is not None: lines.append('Content-Type: application/json; charset=utf-8')
    sys.stdout.write('\\r\\n'.join(lines) + '\\r\\n\\r\\n' + ('' if value is None else json.dumps(value)))
    sys.exit(0)

def text():
    try:
        sent = json.loads(sys.stdin.read(int(os.environ.get('CONTENT_LENGTH') or 0)))
        if isinstance(sent, dict) and isinstance(sent.get('text'), str): return sent['text']
    except ValueError: pass
    out('400 Bad Request', {'error': 'want {"text": ...}'})

def note(i): return os.path.join(HERE, str(i))
def load(i):
    with open(note(i)) as f: return {'id': i, 'text': f.read()}

if path in ('', '/'):
    if method == 'GET': out('200 OK', [load(int(n)) for n in sorted(os.listdir(HERE), key=int) if n.isdigit()])
    if method != 'POST': out('405 Method Not Allowed', {}, Allow='GET, POST')
    t, i = text(), len(os.listdir(HERE)) + 1
    while True:
        try: fd = os.open(note(i), os.O_WRONLY | os.O_CREAT | os.O_EXCL); break
        except FileExistsError: i += 1
    os.write(fd, t.encode()); os.close(fd)
    out('201 Created', {'id': i, 'text': t}, Location='%s/%d' % (me, i))
i = int(path[1:]) if path[1:].isdigit() else 0
if method not in ('GET', 'PUT', 'DELETE'): out('405 Method Not Allowed', {}, Allow='GET, PUT, DELETE')
if not os.path.exists(note(i)): out('404 Not Found', {'error': 'no such note'})
if method == 'GET': out('200 OK', load(i))
if method == 'DELETE': os.remove(note(i)); out('204 No Content')
t = text()
with open(note(i) + '.new', 'w') as f: f.write(t)
os.replace(note(i) + '.new', note(i))
out('200 OK', {'id': i, 'text': t})
`,
    });
    assert.equal(result.status, 'pass', reasons(result));
    const embedded = result.modes.find((m) => m.mode === 'embedded')!;
    assert.ok(embedded.checks.every((c) => c.status === 'skip'));
    assert.match(embedded.checks[0]!.reason!, /embedded mode runs only handler scripts .*notes\.py is a plain CGI program/);
    assert.ok(result.modes.filter((m) => m.mode !== 'embedded').every((m) => m.checks.every((c) => c.status === 'pass')));
  });

  it('a near miss: the notes in a Map — passes embedded, fails under four FastCGI workers saying why', async () => {
    const result = await verifyWith(9, 'solution', {
      'cgi-bin/notes.js': {
        executable: true,
        text: `const notes = new Map();
let last = 0;
const say = (stdout, status, body, extra = '') => stdout.write('Status: ' + status + '\\r\\n' + extra + (body === undefined ? '' : 'Content-Type: application/json\\r\\n') + '\\r\\n' + (body === undefined ? '' : JSON.stringify(body)));
export default async function ({ env, stdin, stdout }) {
  let raw = '';
  for await (const c of stdin) raw += c;
  let text;
  try { text = JSON.parse(raw).text; } catch {}
  const id = Number((env.PATH_INFO || '').slice(1));
  if (!env.PATH_INFO || env.PATH_INFO === '/') {
    if (env.REQUEST_METHOD === 'GET') return say(stdout, 200, [...notes.values()]);
    if (env.REQUEST_METHOD !== 'POST') return say(stdout, 405, {}, 'Allow: GET, POST\\r\\n');
    if (typeof text !== 'string') return say(stdout, 400, {});
    const note = { id: ++last, text };
    notes.set(note.id, note);
    return say(stdout, 201, note, 'Location: ' + env.SCRIPT_NAME + '/' + note.id + '\\r\\n');
  }
  if (!['GET', 'PUT', 'DELETE'].includes(env.REQUEST_METHOD)) return say(stdout, 405, {}, 'Allow: GET, PUT, DELETE\\r\\n');
  if (!notes.has(id)) return say(stdout, 404, {});
  if (env.REQUEST_METHOD === 'GET') return say(stdout, 200, notes.get(id));
  if (env.REQUEST_METHOD === 'DELETE') return notes.delete(id), say(stdout, 204);
  if (typeof text !== 'string') return say(stdout, 400, {});
  notes.set(id, { id, text });
  say(stdout, 200, { id, text });
}
`,
      },
    });
    assert.equal(result.status, 'fail');
    const byMode = Object.fromEntries(result.modes.map((m) => [m.mode, m.checks]));
    assert.ok(
      byMode.embedded!.every((c) => c.status === 'pass'),
      reasons(result),
    );
    assert.equal(byMode.cgi![0]!.status, 'fail');
    assert.match(
      reasons(result),
      /fastcgi: eight notes made at once.*: (the same id twice\. .*a counter in memory is per process \(four FastCGI workers count four times over\).*Keep the notes in files|note \d+ was made .* four FastCGI workers are four processes, each with its own memory.*a file beside the script)/,
    );
  });

  it('a near miss: DELETE answered 200 with the note', () =>
    failsSaying(
      9,
      nearMiss(9, 'cgi-bin/notes.js', [["return answer(stdout, '204 No Content');", "return answer(stdout, '200 OK', { id: Number(id) });"]], true),
      /DELETE answers 204 .*: expected status 204, got 200 OK\. DELETE \/cgi-bin\/notes\.js\/\d+ removes the note and answers "Status: 204 No Content"/,
    ));

  it('a near miss: 405 without Allow', () =>
    failsSaying(
      9,
      nearMiss(
        9,
        'cgi-bin/notes.js',
        [
          [", { Allow: 'GET, POST' }", ''],
          [", { Allow: 'GET, PUT, DELETE' }", ''],
        ],
        true,
      ),
      /other methods: 405 with Allow.*no Allow header field; expected .*A 405 says what would work here: Allow: GET, POST \(RFC 9110 §15\.5\.6\)/,
    ));
});

describe('lesson 10: waiting for news', { concurrency: true }, () => {
  it('passes in Perl: the spool read with a line count, waiting by select()', () =>
    passes(10, {
      'cgi-bin/chat.py': { text: '', executable: false },
      'cgi-bin/chat.pl': `#!/usr/bin/perl
use strict;
use warnings;
use Time::HiRes qw(time);
(my $spool = $ENV{SCRIPT_FILENAME}) =~ s{[^/]+$}{messages.txt};
sub decode { my $s = shift // ''; $s =~ tr/+/ /; $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; $s }
sub params { my %p; for (split /&/, shift // '') { my ($k, $v) = split /=/, $_, 2; $p{decode($k)} //= decode($v) } %p }
sub lines { open(my $f, '<', $spool) or return (); my @l = <$f>; chomp @l; @l }
$| = 1;
if ($ENV{REQUEST_METHOD} eq 'POST') {
  read(STDIN, my $body, $ENV{CONTENT_LENGTH} || 0);
  my %f = params($body);
  (my $msg = $f{msg} // '') =~ s/[\\r\\n]+/ /g;
  if ($msg eq '') { print "Status: 400 Bad Request\\n\\n"; exit }
  open(my $f, '>>', $spool) or die "spool: $!";
  print $f "$msg\\n";
  close $f;
  print "Status: 204 No Content\\n\\n";
  exit;
}
my %q = params($ENV{QUERY_STRING});
my ($since, $timeout) = ($q{since} || 0, $q{timeout} || 0);
my $until = time + $timeout;
while (1) {
  my @all = lines();
  if (@all > $since) {
    print "Content-Type: text/plain\\n\\n";
    print $_ + 1, " $all[$_]\\n" for $since .. $#all;
    exit;
  }
  if (time >= $until) { print "Status: 204 No Content\\n\\n"; exit }
  select(undef, undef, undef, 0.05);
}
`,
    }));

  it('a near miss: a look at the spool every 5 seconds', () =>
    failsSaying(
      10,
      nearMiss(10, 'cgi-bin/chat.py', [['time.sleep(0.1)', 'time.sleep(5)']], true),
      /the held GET answered \d+ ms after the POST; news should reach a waiting client at once — look at the spool every 0\.1 s or so/,
    ));

  it('a near miss: answering at once, always (polling, not long polling)', () =>
    failsSaying(
      10,
      nearMiss(10, 'cgi-bin/chat.py', [['    if time.monotonic() >= deadline:', '    if True:']], true),
      /GET \?since=\d+&timeout=2 answered after \d+ ms; with nothing new it should wait for news up to 2 seconds[\s\S]*with --max-concurrency 10 there is no slot for an eleventh\. If it was answered, the ten were not waiting/,
    ));

  it('a near miss: messages numbered from 0', () =>
    failsSaying(
      10,
      nearMiss(10, 'cgi-bin/chat.py', [["f'{since + i + 1} {text}\\n'", "f'{since + i} {text}\\n'"]], true),
      /the new messages are numbered \d+, \d+; they are messages \d+ and \d+ of the spool \(number = line in the spool, counting from 1\)/,
    ));
});

describe('lesson 11: one-way streams', { concurrency: true }, () => {
  it('passes written another way: sh, CR LF line ends, no space after the colons, a keep-alive comment', () =>
    passes(11, {
      // events.cgi: found before the reference's events.py, left in the folder (not executable).
      'cgi-bin/events.py': { text: '', executable: false },
      'cgi-bin/events.cgi': `#!/bin/sh
n=\${HTTP_LAST_EVENT_ID:-0}
case $n in ''|*[!0-9]*) n=0 ;; esac
printf 'Content-Type: text/event-stream\\r\\n\\r\\n:hello\\r\\nretry:1000\\r\\n\\r\\n'
while :; do
  n=$((n + 1))
  printf 'id:%s\\r\\ndata:tick %s\\r\\n\\r\\n' "$n" "$n"
  sleep 1
done
`,
    }));

  it('a near miss: no flush (every event waits in a buffer)', () =>
    failsSaying(
      11,
      nearMiss(11, 'cgi-bin/events.py', [['        out.flush()\n', '']], true),
      /no event came in 4\.5 s: an event is "id: 1", "data: tick 1" and an empty line; flush after each/,
    ));

  it('a near miss: Last-Event-ID ignored', () =>
    failsSaying(
      11,
      nearMiss(11, 'cgi-bin/events.py', [['n = int(last) if last.isdigit() else 0', 'n = 0']], true),
      /after Last-Event-ID: 41 the first event is id "1", data "tick 1"; expected id 42, "tick 42": the header arrives as HTTP_LAST_EVENT_ID/,
    ));

  it('a near miss: three ticks, then the script ends', () =>
    failsSaying(
      11,
      nearMiss(11, 'cgi-bin/events.py', [['    while True:', '    for _ in range(3):']], true),
      /the stream ended after \d\.\d s \(the server runs with --timeout 2s\), after \d event\(s\): an event stream is one response that goes on — keep writing an event every second and never exit/,
    ));
});

describe('lesson 12: both ways, and RPC over HTTP', { concurrency: true }, () => {
  it('passes written another way: upper.sh in Python (flushing each line), the RPC in Node', () =>
    passes(12, {
      'cgi-bin/upper.sh': `#!/usr/bin/env python3
import sys
for line in sys.stdin:
    print(line.rstrip('\\n').upper(), flush=True)
`,
      'cgi-bin/rpc.py': { text: '', executable: false },
      'cgi-bin/rpc.mjs': `#!/usr/bin/env node
let raw = '';
for await (const chunk of process.stdin) raw += chunk;
const reply = (status, value, extra = '') => process.stdout.write(\`Status: \${status}\\r\\n\${extra}Content-Type: application/json\\r\\n\\r\\n\${JSON.stringify(value)}\`);
if (process.env.REQUEST_METHOD !== 'POST') reply(405, { code: 'unimplemented', message: 'POST only' }, 'Allow: POST\\r\\n');
else {
  let name;
  try { name = JSON.parse(raw).name; } catch {}
  if (typeof name === 'string' && name) reply(200, { greeting: \`Hello, \${name}\` });
  else reply(400, { code: 'invalid_argument', message: 'name must be a non-empty string' });
}
`,
    }));

  it('a near miss: one tr for the whole stream (its output buffered in the pipe)', () =>
    failsSaying(
      12,
      { 'cgi-bin/upper.sh': '#!/bin/sh\nexec tr a-z A-Z\n' },
      /no message came back within 5 s of sending "hello": .*a program writing into a pipe buffers its output: tr alone keeps it until the end/,
    ));

  it('a near miss: answers one message and exits', () =>
    failsSaying(
      12,
      { 'cgi-bin/upper.sh': '#!/bin/sh\nread -r line\nprintf "%s\\n" "$line" | tr a-z A-Z\n' },
      /the connection was closed \(code 1000\) instead of an answer to ".*": did upper\.sh exit\? It must keep reading lines until stdin ends/,
    ));

  it('a near miss: a missing name answered 200 with an error inside', () =>
    failsSaying(
      12,
      nearMiss(
        12,
        'cgi-bin/rpc.py',
        [["error('400 Bad Request', 'invalid_argument', 'name is required')", "answer('200 OK', {'error': 'name is required'})"]],
        true,
      ),
      /expected status 400, got 200 OK\. POST \{\} \(no name\): a Connect error is an HTTP status and a JSON body \{"code":"invalid_argument"/,
    ));
});
