/**
 * Issue #15, the HTTP front: clients that leave early, trickle their uploads, or send heads a
 * strict server refuses. Each test drives `webhist serve` (a separate process) over raw sockets
 * and asserts outcomes only: the status codes, and that a well-behaved client still gets in.
 * A test marked todo reproduces a defect still open; its fix removes the todo.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readProcessTable } from '../../src/proc.ts';
import { eventually, get, modes, open, rawRequest, serve, sleep, statusOf, type Target, untilAnswered } from './support.ts';

// Concurrent: each test has its own server, and most of their time is spent waiting.
describe('#15 attack: the HTTP front', { concurrency: true }, () => {
  for (const mode of modes) {
    it(`#2 (${mode}) a client that leaves before its script starts frees its slot`, async () => {
      const server = await serve(mode, { args: ['--max-concurrency', '2', '--timeout', '60s'] });
      try {
        // One packet each, request and FIN together; a fresh PATH_INFO defeats the lookup cache.
        for (let i = 0; i < 4; i++) (await open(server.port)).end(get(`/cgi-bin/hang.js/gone-${i}-${Date.now()}`));
        await sleep(500);
        await untilAnswered(server.port, '/cgi-bin/hello.js', 200, 4000, 'while 4 departed clients had asked for hang.js');
      } finally {
        await server.stop();
      }
    });

    it(`#2 (${mode}) a client that leaves mid-upload before its script starts frees its slot`, async () => {
      const server = await serve(mode, { args: ['--max-concurrency', '2', '--timeout', '60s'] });
      try {
        for (let i = 0; i < 4; i++)
          (await open(server.port)).end(
            `POST /cgi-bin/echo.js/gone-${i}-${Date.now()} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(10)}`,
          );
        await sleep(500);
        await untilAnswered(server.port, '/cgi-bin/hello.js', 200, 4000, 'after 4 uploads were abandoned');
      } finally {
        await server.stop();
      }
    });

    it(`#2 (${mode}) a client that leaves mid-upload after its script started frees its slot`, async () => {
      const server = await serve(mode, { args: ['--max-concurrency', '2', '--timeout', '60s'] });
      try {
        for (let i = 0; i < 2; i++) {
          const socket = await open(server.port);
          socket.write(`POST /cgi-bin/echo.js HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(10)}`);
          await sleep(300); // the script has started and is reading its stdin
          socket.destroy();
        }
        await untilAnswered(server.port, '/cgi-bin/hello.js', 200, 6000, 'after 2 uploads were abandoned');
      } finally {
        await server.stop();
      }
    });

    it(`#3 (${mode}) a trickled chunked upload is cut at --timeout and frees its slot`, async () => {
      const server = await serve(mode, { args: ['--max-concurrency', '2', '--timeout', '2s'] });
      const answers: string[] = [];
      const tricklers = await Promise.all(
        [0, 1].map(async (i) => {
          const socket = await open(server.port);
          socket.on('data', (chunk) => (answers[i] = (answers[i] ?? '') + chunk.toString('latin1')));
          socket.write('POST /cgi-bin/echo.js HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n');
          const timer = setInterval(() => socket.writable && socket.write('1\r\nx\r\n'), 250);
          socket.on('close', () => clearInterval(timer));
          return { socket, timer };
        }),
      );
      try {
        // Each trickler is answered at --timeout, however slowly the machine runs: a bound, not a timing.
        await eventually(() => answers.filter(Boolean).length === 2, 10_000, 'both tricklers answered');
        for (const [i, answer] of answers.entries()) assert.match(answer ?? '', /^HTTP\/1\.1 408 /, `trickler ${i} was answered 408`);
        await untilAnswered(server.port, '/cgi-bin/hello.js', 200, 8000, 'with --timeout 2s and 2 tricklers');
      } finally {
        for (const { socket, timer } of tricklers) {
          clearInterval(timer);
          socket.destroy();
        }
        await server.stop();
      }
    });
  }

  it('#13 a client that trickles its head (slowloris) gets 408 at --header-timeout, and others get in meanwhile', async () => {
    const server = await serve('cgi', { args: ['--header-timeout', '1s'] });
    const socket = await open(server.port);
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('GET /cgi-bin/hello.js HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const timer = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
    try {
      assert.equal(await statusOf(server.port, '/cgi-bin/hello.js'), 200, 'a well-behaved client meanwhile');
      await Promise.race([closed, sleep(8000)]);
      assert.match(answer, /^HTTP\/1\.1 408 /, `the trickler was answered: ${JSON.stringify(answer.slice(0, 40))}`);
    } finally {
      clearInterval(timer);
      socket.destroy();
      await server.stop();
    }
  });

  it('#13 (embedded --processes 2 --port 0) processes replacing dead ones listen on the port first chosen', async () => {
    const server = await serve('embedded', { args: ['--processes', '2'] });
    try {
      const children = () => [...readProcessTable().values()].filter((p) => p.ppid === server.pid).map((p) => p.pid);
      await eventually(() => children().length === 2, 10_000, 'two server processes');
      for (const pid of children()) process.kill(pid, 'SIGKILL');
      await untilAnswered(server.port, '/cgi-bin/hello.js', 200, 15_000, `on port ${server.port} after every process died`);
    } finally {
      await server.stop();
    }
  });

  describe('#13 heads a strict server refuses or must accept', () => {
    let server: Target;
    before(async () => {
      server = await serve('cgi', {
        files: {
          'page.html': '<p>public</p>\n',
          'page.html~': 'SECRET BACKUP\n',
          'page.html.bak': 'SECRET BACKUP\n',
          'page.html.swp': 'SECRET SWAP\n',
          '#page.html#': 'SECRET AUTOSAVE\n',
          '.env': 'SECRET=1\n',
          '.git/config': '[remote] SECRET\n',
        },
        scripts: {
          '.hidden.sh': "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nSECRET\\n'\n",
          'hello.sh~': "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nSECRET\\n'\n",
          'header-bytes.sh':
            "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nprintf '%s' \"$HTTP_X_NAME\" | od -An -tx1 | tr -s ' ' | sed 's/^ //'\n",
        },
        args: ['--docroot', '$TMP'],
      });
    });
    after(() => server?.stop());

    it('#13 two Host headers are a 400 (RFC 9112 §3.2)', async () => {
      const response = await rawRequest(server.port, 'GET /cgi-bin/hello.js HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
      assert.equal(response.status, 400);
    });

    it('#13 an absolute-form target is served (RFC 9112 §3.2.2: a server MUST accept it)', async () => {
      const response = await rawRequest(
        server.port,
        `GET http://127.0.0.1:${server.port}/cgi-bin/hello.js HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(response.status, 200);
    });

    it("#13 an absolute-form target's host is the one a script sees, its path decoded once like any other", async () => {
      const response = await rawRequest(
        server.port,
        'GET http://site.example:8080/cgi-bin/printenv.js/a%20b?q=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n',
      );
      assert.equal(response.status, 200, response.head);
      const body = response.body.toString();
      assert.match(body, /^HTTP_HOST="site\.example:8080"$/m);
      assert.match(body, /^SERVER_NAME="site\.example"$/m);
      assert.match(body, /^PATH_INFO="\/a b"$/m);
      assert.match(body, /^QUERY_STRING="q=1"$/m);
      // A traversal spelled inside an absolute-form target is refused as in origin-form.
      const climb = await rawRequest(server.port, 'GET http://127.0.0.1/cgi-bin/.%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(climb.status, 400);
    });

    it('#13 a bare-LF request line is not answered as HTTP/0.9', async () => {
      const response = await rawRequest(server.port, 'GET /cgi-bin/hello.js\n\n', 2000).catch(() => undefined);
      const text = response?.raw.toString('latin1') ?? '';
      assert.ok(text === '' || /^HTTP\/1\.[01] 400 /.test(text), `answered: ${JSON.stringify(text.slice(0, 60))}`);
    });

    it('#13 backup files in the docroot are not served', async () => {
      for (const path of ['/page.html~', '/page.html.bak', '/page.html.swp', '/%23page.html%23']) {
        const response = await rawRequest(server.port, get(path));
        assert.equal(response.status, 404, path);
        assert.doesNotMatch(response.body.toString(), /SECRET/, path);
      }
      assert.equal((await rawRequest(server.port, get('/page.html'))).status, 200, 'the page itself is served');
    });

    it('#13 dot files and folders (.env, .git) are not served, nor run from cgi-bin', async () => {
      for (const path of ['/.env', '/.git/config', '/%2egit/config', '/cgi-bin/.hidden.sh', '/cgi-bin/hello.sh~']) {
        const response = await rawRequest(server.port, get(path));
        assert.equal(response.status, 404, path);
        assert.doesNotMatch(response.body.toString(), /SECRET/, path);
      }
    });

    it("#13 a header's non-ASCII bytes reach a script unchanged", async () => {
      const request = Buffer.concat([
        Buffer.from('GET /cgi-bin/header-bytes.sh HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Name: caf'),
        Buffer.from([0xe9]),
        Buffer.from('\r\n\r\n'),
      ]);
      const response = await rawRequest(server.port, request);
      assert.equal(response.status, 200, response.head);
      assert.equal(response.body.toString().trim(), '63 61 66 e9');
    });
  });
});
