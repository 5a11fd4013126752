/**
 * The learner's front door (issue 12), driven as a user drives it: the built bin started as a
 * process, its output and exit status, and HTTP against the server it starts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { packageRoot } from '../src/package-root.ts';
import { explainSpawnFailure, parseSyntaxCheck } from '../src/script/diagnose.ts';
import { get, rawRequest } from './support/http.ts';

const bin = join(packageRoot, 'bin/webhist.js');

function webhist(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, cwd: options.cwd ?? packageRoot, env: options.env ?? process.env });
}

/** A folder of the test's own, removed after the file's tests. */
function folder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'webhist-frontdoor-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
    if (name.endsWith('.cgi') || name.endsWith('.pl')) chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

/** `webhist serve --port 0 ...`: its URL once ready, and everything it printed. */
function serve(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; bin?: string } = {}) {
  const child = spawn(process.execPath, [options.bin ?? bin, 'serve', '--port', '0', ...args], {
    cwd: options.cwd ?? packageRoot,
    env: options.env ?? process.env,
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const ready = new Promise<{ url: string; port: number }>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      // Colours (FORCE_COLOR) wrap the URL: look past them.
      const match = /on (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(out.replace(/\u001b\[\d+m/g, ''));
      if (match) resolve({ url: match[1]!, port: Number(match[2]) });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  after(() => child.kill('SIGKILL'));
  return { child, ready, output: () => out, errors: () => err };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), what);
}

/** The response as the server sent it, less the headers node:http adds for itself (Date, Connection, Keep-Alive). */
function wireWithoutNodeHeaders(raw: Buffer): string {
  return raw.toString('latin1').replace(/^(Date|Connection|Keep-Alive): [^\r]*\r\n/gim, '');
}

describe('webhist run tells the truth', () => {
  it('shows the framing the server really uses: --json gives the very bytes a real server sends, less Date/Connection', async () => {
    const server = serve(['--quiet']);
    const { port } = await server.ready;
    for (const script of ['hello.js', 'status.js?code=204', 'crash.js']) {
      const [file, query = ''] = script.split('?');
      const result = webhist(['run', `cgi-bin/${file}`, '--query', query, '--json']);
      const report = JSON.parse(result.stdout);
      assert.equal(report.response.rendered.encoding, 'utf8');
      const real = await rawRequest(port, get(`/cgi-bin/${script}`));
      assert.equal(report.response.rendered.data, wireWithoutNodeHeaders(real.raw), `${script}: run shows what serve sends`);
      assert.equal(report.response.complete, real.complete, `${script}: complete or cut, as on the wire`);
    }
  });

  it('shows a crash after the headers as a cut chunked body, and exits 1', () => {
    const result = webhist(['run', 'cgi-bin/crash.js']);
    assert.equal(result.status, 1);
    const response = result.stdout.slice(result.stdout.indexOf('the HTTP response the server would send'));
    assert.match(response, /^Transfer-Encoding: chunked$/m);
    assert.doesNotMatch(response, /Content-Length/);
    assert.match(response, /^2c\\r\\n$/m, 'the chunk size, in hex');
    assert.doesNotMatch(response, /^0\\r\\n\\r\\n$/m, 'no last chunk');
    assert.match(response, /no last chunk; the server closes the connection/);
  });

  it('a whole response ends with the last chunk, and exits 0', () => {
    const result = webhist(['run', 'cgi-bin/hello.js']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^27\\r\\n\nHello, world from a JavaScript handler\n\\r\\n\n0\\r\\n\\r\\n$/m);
  });

  it('a timeout is the 504 the server sends, and exits 1', () => {
    const result = webhist(['run', 'cgi-bin/hang.js', '--timeout', '1s']);
    assert.equal(result.status, 1);
    assert.match(result.stdout, /^HTTP\/1\.1 504 Gateway Timeout$/m);
    assert.match(result.stdout, /killed at the 1s time limit/);
    assert.doesNotMatch(result.stdout, /502/);
    const json = JSON.parse(webhist(['run', 'cgi-bin/hang.js', '--timeout', '1s', '--json']).stdout);
    assert.equal(json.response.status, 504);
    assert.equal(json.timedOut, true);
  });

  it('a response the server sends as 5xx exits 1; a 4xx does not', () => {
    assert.equal(webhist(['run', 'cgi-bin/status.js', '--query', 'code=500']).status, 1);
    assert.equal(webhist(['run', 'cgi-bin/status.js', '--query', 'code=404']).status, 0);
  });

  it('--json gives bodies as text, or base64 where they are not UTF-8, never a byte array', () => {
    const big = JSON.parse(webhist(['run', 'cgi-bin/big.js', '--query', 'kb=64', '--json']).stdout);
    assert.equal(big.stdout.encoding, 'utf8');
    assert.equal(typeof big.stdout.data, 'string');
    assert.equal(big.response.body.encoding, 'utf8');
    assert.ok(big.response.body.data.length >= 64 * 1024);

    const dir = folder({ 'cgi-bin/bytes.cgi': "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\r\\n\\r\\n\\377\\376\\000'\n" });
    const bytes = JSON.parse(webhist(['run', join(dir, 'cgi-bin/bytes.cgi'), '--json']).stdout);
    assert.equal(bytes.response.body.encoding, 'base64');
    assert.deepEqual(Buffer.from(bytes.response.body.data, 'base64'), Buffer.from([0xff, 0xfe, 0x00]));
    assert.equal(bytes.stdout.encoding, 'base64');
  });

  it('gives the DOCUMENT_ROOT serve gives, in the clone and in a folder of your own', async () => {
    const printenv = '#!/bin/sh\nprintf \'Content-Type: text/plain\\r\\n\\r\\n\'\necho "DOCUMENT_ROOT=$DOCUMENT_ROOT"\n';
    const own = folder({ 'cgi-bin/root.cgi': printenv });
    for (const cwd of [packageRoot, own]) {
      const script = cwd === own ? 'cgi-bin/root.cgi' : 'cgi-bin/printenv.js';
      // printenv.js quotes its values; root.cgi does not.
      const documentRoot = /^DOCUMENT_ROOT="?([^"\n]*)/m;
      const fromRun = documentRoot.exec(webhist(['run', script], { cwd }).stdout)?.[1];
      const server = serve(['--quiet'], { cwd });
      const { url } = await server.ready;
      const fromServe = documentRoot.exec(await (await fetch(`${url}${script}`)).text())?.[1];
      assert.ok(fromRun, 'run prints DOCUMENT_ROOT');
      assert.equal(fromRun, fromServe, `in ${cwd}`);
      server.child.kill('SIGTERM');
    }
  });
});

describe('messages that send a learner the right way', () => {
  it('a handler with a syntax error is reported as one, with file:line:column, in embedded mode', async () => {
    const dir = folder({ 'broken.js': 'export default async function ({ stdout }) {\n  stdout.write("x"\n  if (\n}\n' });
    const server = serve(['--mode', 'embedded', '--cgi-bin', dir]);
    const { url } = await server.ready;
    assert.equal((await fetch(`${url}cgi-bin/broken.js`)).status, 500);
    const file = realpathSync(join(dir, 'broken.js'));
    await until(() => server.errors().includes('syntax error at'), 'the error log names the syntax error');
    assert.match(server.errors(), new RegExp(`/cgi-bin/broken\\.js: syntax error at ${file.replaceAll('.', '\\.')}:2:16: missing \\) after argument list`));
    assert.doesNotMatch(server.errors(), /plain CGI program/);
    // run says the same, in one line.
    const result = webhist(['run', join(dir, 'broken.js')]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^webhist: syntax error at .*broken\.js:2:16: missing \) after argument list\n$/);
  });

  it('a CRLF #! line and a missing interpreter are named, in CGI and FastCGI mode', async () => {
    const dir = folder({
      'crlf.pl': '#!/usr/bin/perl\r\nprint "Content-Type: text/plain\\r\\n\\r\\nhi\\n";\r\n',
      'missing.cgi': '#!/usr/bin/no-such-interpreter\necho hi\n',
    });
    for (const mode of ['cgi', 'fastcgi']) {
      const server = serve(['--mode', mode, '--cgi-bin', dir]);
      const { url } = await server.ready;
      assert.equal((await fetch(`${url}cgi-bin/crlf.pl`)).status, mode === 'cgi' ? 500 : 502);
      assert.equal((await fetch(`${url}cgi-bin/missing.cgi`)).status, mode === 'cgi' ? 500 : 502);
      await until(() => server.errors().includes('no-such-interpreter'), `${mode}: the error log names the interpreter`);
      assert.match(
        server.errors(),
        /crlf\.pl: its #! line ends in \\r \(the file has Windows CRLF line ends\), so the system looks for an interpreter named "\/usr\/bin\/perl\\r"/,
      );
      assert.match(server.errors(), /missing\.cgi: the interpreter on its #! line, \/usr\/bin\/no-such-interpreter, does not exist/);
      assert.doesNotMatch(server.errors(), /spawn \S+ ENOENT/);
      server.child.kill('SIGTERM');
    }
  });

  it('explains spawn failures (a table of cases)', () => {
    const cases: Array<[program: string, head: string | undefined, code: string, expected: RegExp]> = [
      ['/s/a.pl', '#!/usr/bin/perl\r\nprint 1', 'ENOENT', /ends in \\r .* named "\/usr\/bin\/perl\\r"; save it with LF line ends/],
      ['/s/a.cgi', '#!/opt/ruby -w\nputs 1', 'ENOENT', /the interpreter on its #! line, \/opt\/ruby, does not exist/],
      ['perl', '#!/usr/bin/perl\n', 'ENOENT', /its interpreter perl is not installed/],
      ['/s/a.cgi', '#!/bin/sh\n', 'EACCES', /permission denied \(is its #! interpreter, \/bin\/sh, executable\?\)/],
      ['/s/a.cgi', 'echo\n', 'EACCES', /permission denied \(chmod \+x \/s\/a\.cgi\)/],
      ['/s/a.cgi', undefined, 'EMFILE', /cannot start \/s\/a\.cgi: spawn x EMFILE/],
    ];
    for (const [program, head, code, expected] of cases) {
      const script = program.startsWith('/') ? program : '/s/a.pl';
      assert.match(
        explainSpawnFailure(program, script, head === undefined ? undefined : Buffer.from(head), Object.assign(new Error(`spawn x ${code}`), { code })),
        expected,
        `${program} ${code}`,
      );
    }
  });

  it('reads node --check: file:line:column and the message', () => {
    const report = '/srv/x.js:2\n  stdout.write("x"\n               ^^^\n\nSyntaxError: missing ) after argument list\n    at checkSyntax\n';
    assert.equal(parseSyntaxCheck(report), '/srv/x.js:2:16: missing ) after argument list');
    assert.equal(parseSyntaxCheck('all good'), undefined);
  });

  it('refuses an option of another mode, in one message shape', () => {
    const refusals: Array<[string[], string]> = [
      [['--trace'], '--trace is for --mode fastcgi (this is --mode cgi)'],
      [['--workers', '2'], '--workers is for --mode fastcgi (this is --mode cgi)'],
      [['--pm', 'dynamic', '--mode', 'embedded'], '--pm is for --mode fastcgi (this is --mode embedded)'],
      [['--max-requests', '5'], '--max-requests is for --mode fastcgi (this is --mode cgi)'],
      [['--fastcgi-connect', 'tcp:127.0.0.1:9000'], '--fastcgi-connect is for --mode fastcgi (this is --mode cgi)'],
      [['--processes', '2', '--mode', 'fastcgi'], '--processes is for --mode embedded (this is --mode fastcgi)'],
    ];
    for (const [args, message] of refusals) {
      const result = webhist(['serve', '--port', '0', ...args]);
      assert.equal(result.status, 1, args.join(' '));
      assert.equal(result.stderr, `webhist: ${message}\n`);
    }
  });

  it('turns system errors into one clear line, and checks output paths before a long run', () => {
    const oneLine: Array<[string[], RegExp]> = [
      [['serve', '--port', '0', '--host', 'no-such-host.invalid'], /^webhist: --host no-such-host\.invalid: no such host name/],
      [['serve', '--port', '0', '--cgi-bin', 'package.json'], /^webhist: --cgi-bin package\.json: a file, not a directory\n/],
      [['serve', '--port', '0', '--docroot', '/nonexistent'], /^webhist: --docroot \/nonexistent: no such directory\n/],
      [['run', 'cgi-bin/echo.js', '--data-file', '/nonexistent'], /^webhist: --data-file \/nonexistent: no such file\n/],
      [['bench', '--html', '/nonexistent/x.html'], /^webhist: --html \/nonexistent\/x\.html: no such directory \/nonexistent\n/],
      [['bench', '--json', 'cgi-bin'], /^webhist: --json cgi-bin: a directory, not a file\n/],
      [['serve', '--timeout', '0'], /^webhist: --timeout 0: a time limit must be above 0/],
      [['run', 'cgi-bin/hello.js', '--timeout', '0'], /^webhist: --timeout 0: a time limit must be above 0/],
    ];
    for (const [args, expected] of oneLine) {
      const result = webhist(args);
      assert.equal(result.status, 1, args.join(' '));
      assert.match(result.stderr, expected);
      assert.doesNotMatch(result.stderr, /ENOENT|ENOTFOUND|getaddrinfo|\n\s+at /, 'no raw system error, no stack');
      assert.equal(result.stdout, '', `${args.join(' ')}: nothing ran`);
    }
  });

  it("speaks in one voice: commander's errors worded as ours", () => {
    const voice: Array<[string[], string]> = [
      [['serve', '--port', 'eighty'], 'webhist: --port eighty: not a whole number from 0 to 65535'],
      [['serve', '--log', 'xml'], 'webhist: --log xml: choose one of clf, combined, json'],
      [['serve', '--mode', 'apache'], 'webhist: --mode apache: choose one of cgi, fastcgi, embedded'],
      [['bench', '--modes', 'cgi,apache'], 'webhist: --modes cgi,apache: apache: choose one of cgi, fastcgi, embedded, cgi-fork'],
      [['serve', '--port'], 'webhist: --port: give a value, --port <n>'],
      [['serve', '--no-such-flag'], 'webhist: unknown option --no-such-flag'],
      [['run'], 'webhist: give the script'],
    ];
    for (const [args, first] of voice) {
      const result = webhist(args);
      assert.equal(result.status, 1);
      const [line, hint] = result.stderr.split('\n');
      assert.equal(line, first);
      assert.match(hint!, /^ {2}\(see webhist \w+ --help\)$/);
      assert.doesNotMatch(result.stderr, /error:/);
    }
  });
});

describe('help that reads like the README', () => {
  for (const command of ['serve', 'run', 'worker', 'bench']) {
    it(`${command} --help: README units, no false or JSON defaults, ends with examples`, () => {
      const help = webhist([command, '--help']).stdout;
      assert.doesNotMatch(help, /default: false|default: \[|\(default: "|choices: "/);
      assert.doesNotMatch(help, /default \d{4,}\b/, 'no milliseconds or bytes');
      const examples = help.slice(help.lastIndexOf('Examples:'));
      assert.ok(help.includes('Examples:'), 'an Examples section');
      assert.ok(examples.split('\n').filter((line) => /^ {2}\S/.test(line)).length >= 2, 'two or more examples');
    });
  }

  it('shows durations and sizes as they are typed, and how long a default bench takes', () => {
    const serveHelp = webhist(['serve', '--help']).stdout.replace(/\s+/g, ' ');
    assert.match(serveHelp, /killed \(504\) \(default 30s\)/);
    assert.match(serveHelp, /\(default 10m\)/);
    assert.match(serveHelp, /\(one of clf, combined, json; default clf\)/);
    const benchHelp = webhist(['bench', '--help']).stdout.replace(/\s+/g, ' ');
    // 3 modes × 2 scripts × 2 connection counts, 3 runs, 2 s warm-up + 10 s each: 432 s.
    assert.match(benchHelp, /measures 12 scenarios 3 times, 2s \+ 10s each: about 7 minutes/);
    assert.match(benchHelp, /--duration <time> measured window per scenario and run \(default 10s\)/);
  });
});

describe('webhist outside the clone', () => {
  it('installed with npm install -g (as npm link does) and run in a folder with a cgi-bin: that cgi-bin and that folder', async (t) => {
    const prefix = folder();
    const npm = spawnSync('npm', ['install', '-g', '.', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: packageRoot,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (npm.error) return t.skip(`npm is not on PATH (${npm.error.message})`);
    assert.equal(npm.status, 0, npm.stderr);
    const linked = join(prefix, 'bin/webhist');
    assert.ok(existsSync(linked), 'npm put webhist on the PATH');

    const own = folder({
      'cgi-bin/mine.cgi': "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nmine\\n'\n",
      'index.html': '<!doctype html><title>my site</title>\n',
    });
    // Only the system's directories on PATH: the linked command must find its own Node.
    const env = { PATH: `${join(prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin` };
    const server = serve([], { cwd: own, env, bin: linked });
    const { url } = await server.ready;
    assert.match(server.output(), /\(cgi-bin \.\/cgi-bin, docroot \., from this folder; Ctrl-C stops\)\n/);
    assert.equal(await (await fetch(`${url}cgi-bin/mine.cgi`)).text(), 'mine\n');
    assert.match(await (await fetch(url)).text(), /my site/);
    server.child.kill('SIGTERM');

    // With a public/ beside it, that is the docroot.
    mkdirSync(join(own, 'public'));
    writeFileSync(join(own, 'public/index.html'), 'public page\n');
    const second = serve([], { cwd: own, env, bin: linked });
    const again = await second.ready;
    assert.match(second.output(), /docroot \.\/public, from this folder/);
    assert.equal(await (await fetch(again.url)).text(), 'public page\n');
    second.child.kill('SIGTERM');
  });

  it('in the clone, the shipped cgi-bin and docs, as before', async () => {
    const server = serve(['--quiet']);
    await server.ready;
    assert.match(server.output(), /\(cgi-bin \.\/cgi-bin, docroot \.\/docs; Ctrl-C stops\)\n/);
  });
});

describe('smaller things', () => {
  it('a source file in cgi-bin is a 403 with the reason, not a 500', async () => {
    const server = serve(['--quiet']);
    const { url } = await server.ready;
    const res = await fetch(`${url}cgi-bin/hello.c`);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /\/cgi-bin\/hello\.c is not a script: a \.c source file: compile it into a program first/);
  });

  it('handler stack traces in the error log carry no ?mtime= cache-buster (embedded and FastCGI)', async () => {
    for (const mode of ['embedded', 'fastcgi']) {
      const server = serve(['--mode', mode, '--quiet']);
      const { url } = await server.ready;
      await (await fetch(`${url}cgi-bin/crash.js`)).text().catch(() => '');
      await until(() => /crash\.js:\d+:\d+/.test(server.errors()), `${mode}: the stack frame is logged`);
      assert.doesNotMatch(server.errors(), /mtime=/);
      server.child.kill('SIGTERM');
    }
  });

  it('the ready line ends its colour before the newline', async () => {
    const server = serve(['--quiet'], { env: { ...process.env, FORCE_COLOR: '1' } });
    await server.ready;
    await until(() => server.output().includes('\n'), 'the ready line is whole');
    const line = server.output().slice(0, server.output().indexOf('\n') + 1);
    assert.match(line, /\u001b\[2m\(cgi-bin/, 'the aside is dim');
    assert.match(line, /\u001b\[22m\n$/, 'the dim ends before the newline');
    // chalk, given a newline inside, closes before it and reopens after: a stray code on the next line.
    assert.doesNotMatch(server.output(), /\n\u001b\[/, 'nothing of the colour after the newline');
  });

  it('LICENSE is MIT, as package.json says; .gitignore hides no tracked file', (t) => {
    const license = readFileSync(join(packageRoot, 'LICENSE'), 'utf8');
    assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} webhist contributors\n/);
    assert.equal(JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).license, 'MIT');
    const ignored = spawnSync('git', ['ls-files', '--cached', '--ignored', '--exclude-standard'], { cwd: packageRoot, encoding: 'utf8' });
    if (ignored.status !== 0) return t.skip(`not a git checkout (${ignored.stderr.trim() || ignored.error?.message})`);
    assert.equal(ignored.stdout, '', 'tracked files that .gitignore lists');
  });
});
