// Tests for src/cgi/env.ts: the environment a script sees (RFC 3875 §4.1) and §4.4's words.
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { buildEnv, envFromParams, FIXED_PATH, searchArgs, textEnvironment, valueBytes, type EnvInput } from '../src/cgi/env.ts';

/** Header lines as node's rawHeaders has them, from a record of lower-case names. */
function raw(headers: Record<string, string[]>): string[] {
  return Object.entries(headers).flatMap(([name, values]) => values.flatMap((value) => [name, value]));
}
function headersOf(input: EnvInput): Record<string, string[]> {
  const record: Record<string, string[]> = {};
  for (let i = 0; i < input.rawHeaders.length; i += 2) (record[input.rawHeaders[i]!] ??= []).push(input.rawHeaders[i + 1]!);
  return record;
}

const base: EnvInput = {
  method: 'GET',
  requestUri: '/cgi-bin/hello.sh?a=1',
  query: 'a=1',
  rawHeaders: raw({ host: ['example.com:8080'], 'user-agent': ['curl/8.0'] }),
  httpVersion: '1.1',
  scriptName: '/cgi-bin/hello.sh',
  scriptFilename: '/srv/cgi-bin/hello.sh',
  pathInfo: '',
  documentRoot: '/srv/docs',
  remoteAddress: '127.0.0.1',
  remotePort: 54321,
  serverAddress: '127.0.0.1',
  serverPort: 8080,
  serverSoftware: 'webhist/0.1.0',
};

test('a plain GET gives exactly these variables', () => {
  assert.deepEqual(buildEnv(base), {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'webhist/0.1.0',
    SERVER_NAME: 'example.com',
    SERVER_ADDR: '127.0.0.1',
    SERVER_PORT: '8080',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: 'GET',
    REQUEST_URI: '/cgi-bin/hello.sh?a=1',
    SCRIPT_NAME: '/cgi-bin/hello.sh',
    SCRIPT_FILENAME: '/srv/cgi-bin/hello.sh',
    DOCUMENT_ROOT: '/srv/docs',
    PATH_INFO: '',
    QUERY_STRING: 'a=1',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_HOST: '127.0.0.1',
    REMOTE_PORT: '54321',
    REDIRECT_STATUS: '200',
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HTTP_HOST: 'example.com:8080',
    HTTP_USER_AGENT: 'curl/8.0',
  });
});

// Each case changes the base input and lists the variables it expects; undefined means unset.
const cases: Array<{ name: string; input: Partial<EnvInput>; want: Record<string, string | undefined> }> = [
  {
    name: 'path info, translated onto the docroot',
    input: { pathInfo: '/x/y z', requestUri: '/cgi-bin/hello.sh/x/y%20z' },
    want: { PATH_INFO: '/x/y z', PATH_TRANSLATED: '/srv/docs/x/y z', SCRIPT_NAME: '/cgi-bin/hello.sh' },
  },
  {
    name: 'path info under a docroot given with a trailing slash',
    input: { pathInfo: '/x', documentRoot: '/srv/docs/' },
    want: { PATH_TRANSLATED: '/srv/docs/x', DOCUMENT_ROOT: '/srv/docs/' },
  },
  { name: 'no path info, no PATH_TRANSLATED', input: {}, want: { PATH_INFO: '', PATH_TRANSLATED: undefined } },
  {
    name: 'no query: QUERY_STRING set and empty',
    input: { query: '', requestUri: '/cgi-bin/hello.sh' },
    want: { QUERY_STRING: '', REQUEST_URI: '/cgi-bin/hello.sh' },
  },
  {
    name: 'a body: CONTENT_LENGTH and CONTENT_TYPE, not duplicated as HTTP_*',
    input: {
      method: 'POST',
      contentLength: 11,
      rawHeaders: raw({ host: ['h'], 'content-type': ['application/x-www-form-urlencoded'], 'content-length': ['11'] }),
    },
    want: {
      REQUEST_METHOD: 'POST',
      CONTENT_LENGTH: '11',
      CONTENT_TYPE: 'application/x-www-form-urlencoded',
      HTTP_CONTENT_LENGTH: undefined,
      HTTP_CONTENT_TYPE: undefined,
    },
  },
  { name: 'an empty body still has a length', input: { contentLength: 0 }, want: { CONTENT_LENGTH: '0' } },
  { name: 'no body, no CONTENT_LENGTH', input: {}, want: { CONTENT_LENGTH: undefined, CONTENT_TYPE: undefined } },
  {
    name: 'repeated headers merged: Cookie with "; ", others with ", "',
    input: { rawHeaders: raw({ host: ['h'], cookie: ['nom=NOM', 'yum=YUM'], 'x-foo': ['val1', 'val2'] }) },
    want: { HTTP_COOKIE: 'nom=NOM; yum=YUM', HTTP_X_FOO: 'val1, val2' },
  },
  {
    name: 'the Proxy header dropped (httpoxy)',
    input: { rawHeaders: raw({ host: ['h'], 'x-foo': ['a'], proxy: ['http://evil.example:3128'] }) },
    want: { HTTP_X_FOO: 'a', HTTP_PROXY: undefined },
  },
  {
    name: 'Authorization withheld, its scheme given as AUTH_TYPE',
    input: { rawHeaders: raw({ host: ['h'], authorization: ['Basic dXNlcjpwYXNz'] }) },
    want: { AUTH_TYPE: 'Basic', HTTP_AUTHORIZATION: undefined },
  },
  {
    name: 'Authorization passed when asked',
    input: { rawHeaders: raw({ host: ['h'], authorization: ['Basic dXNlcjpwYXNz'] }), passAuthorization: true },
    want: { AUTH_TYPE: 'Basic', HTTP_AUTHORIZATION: 'Basic dXNlcjpwYXNz' },
  },
  {
    name: 'Proxy-Authorization never passed',
    input: { rawHeaders: raw({ host: ['h'], 'proxy-authorization': ['Basic eDp5'] }), passAuthorization: true },
    want: { HTTP_PROXY_AUTHORIZATION: undefined, AUTH_TYPE: undefined },
  },
  {
    name: 'an Authorization without a token scheme gives no AUTH_TYPE',
    input: { rawHeaders: raw({ host: ['h'], authorization: ['"odd" x'] }) },
    want: { AUTH_TYPE: undefined },
  },
  {
    name: 'header names beyond letters, digits and "-" dropped',
    input: { rawHeaders: raw({ host: ['h'], 'foo-bar': ['dash'], foo_bar: ['underscore'], 'x.y': ['dot'] }) },
    want: { HTTP_FOO_BAR: 'dash', HTTP_X_Y: undefined, 'HTTP_X.Y': undefined },
  },
  {
    name: 'header names as the client spelt them: one variable per name in any case, repeats merged',
    input: { rawHeaders: ['HOST', 'Example.com', 'X-Foo', 'a', 'x-foo', 'b', 'COOKIE', 'a=1', 'Cookie', 'b=2', 'Content-Type', 'text/plain'] },
    want: {
      SERVER_NAME: 'example.com',
      HTTP_HOST: 'Example.com',
      HTTP_X_FOO: 'a, b',
      HTTP_COOKIE: 'a=1; b=2',
      CONTENT_TYPE: 'text/plain',
      HTTP_CONTENT_TYPE: undefined,
    },
  },
  { name: 'an empty header value kept', input: { rawHeaders: raw({ host: ['h'], 'x-empty': [''] }) }, want: { HTTP_X_EMPTY: '' } },
  {
    name: 'IPv6 remote address without brackets',
    input: { remoteAddress: '2000::3000', remotePort: 12345 },
    want: { REMOTE_ADDR: '2000::3000', REMOTE_HOST: '2000::3000', REMOTE_PORT: '12345' },
  },
  {
    name: 'IPv6 remote address given in brackets',
    input: { remoteAddress: '[::1]' },
    want: { REMOTE_ADDR: '::1', REMOTE_HOST: '::1' },
  },
  {
    name: 'IPv4-mapped addresses given as IPv4',
    input: { remoteAddress: '::ffff:127.0.0.1', serverAddress: '::FFFF:10.0.0.2' },
    want: { REMOTE_ADDR: '127.0.0.1', REMOTE_HOST: '127.0.0.1', SERVER_ADDR: '10.0.0.2' },
  },
  { name: 'SERVER_NAME from Host without a port', input: { rawHeaders: raw({ host: ['Example.COM'] }) }, want: { SERVER_NAME: 'example.com' } },
  {
    name: 'SERVER_NAME keeps an IPv6 literal in brackets',
    input: { rawHeaders: raw({ host: ['[::1]:8080'] }) },
    want: { SERVER_NAME: '[::1]', HTTP_HOST: '[::1]:8080' },
  },
  { name: 'SERVER_NAME from an IPv6 Host with no port', input: { rawHeaders: raw({ host: ['[2001:DB8::1]'] }) }, want: { SERVER_NAME: '[2001:db8::1]' } },
  { name: 'no Host: SERVER_NAME is the server address', input: { rawHeaders: raw({}) }, want: { SERVER_NAME: '127.0.0.1', HTTP_HOST: undefined } },
  {
    name: 'no Host on IPv6: the server address in brackets',
    input: { rawHeaders: raw({}), serverAddress: '::1' },
    want: { SERVER_NAME: '[::1]', SERVER_ADDR: '::1' },
  },
  { name: 'a Host that is not a host: the server address', input: { rawHeaders: raw({ host: ['a:b:c'] }) }, want: { SERVER_NAME: '127.0.0.1' } },
  { name: 'a bracketed Host that is not IPv6: the server address', input: { rawHeaders: raw({ host: ['[nope]:80'] }) }, want: { SERVER_NAME: '127.0.0.1' } },
  { name: 'HTTP/1.0', input: { httpVersion: '1.0' }, want: { SERVER_PROTOCOL: 'HTTP/1.0' } },
  {
    name: 'extra merged last, over the rest',
    input: { extra: { REDIRECT_URL: '/cgi-bin/old', REDIRECT_STATUS: '302', QUERY_STRING: 'b=2' } },
    want: { REDIRECT_URL: '/cgi-bin/old', REDIRECT_STATUS: '302', QUERY_STRING: 'b=2' },
  },
];

for (const { name, input, want } of cases) {
  test(`buildEnv: ${name}`, () => {
    const env = buildEnv({ ...base, ...input });
    for (const [variable, value] of Object.entries(want)) {
      if (value === undefined) assert.equal(Object.hasOwn(env, variable), false, `${variable} should be unset`);
      else assert.equal(env[variable], value, variable);
    }
  });
}

test('nothing of the server environment reaches the script', () => {
  const saved = { ...process.env };
  Object.assign(process.env, {
    WEBHIST_TEST_SECRET: 'hunter2-secret',
    HTTP_PROXY: 'http://proxy.internal:3128',
    NODE_OPTIONS: '--require /tmp/evil.js',
    PATH: '/opt/secret/bin:/usr/bin',
  });
  try {
    const env = buildEnv({ ...base, rawHeaders: raw({ host: ['h'], proxy: ['p'] }), contentLength: 3, pathInfo: '/p' });
    const expected = new Set([...Object.keys(buildEnv(base)), 'CONTENT_LENGTH', 'PATH_TRANSLATED']);
    assert.deepEqual(
      Object.keys(env).filter((key) => !expected.has(key)),
      [],
    );
    assert.equal(env.PATH, '/usr/local/bin:/usr/bin:/bin');
    for (const [key, value] of Object.entries(env)) {
      assert.ok(!value.includes('hunter2') && !value.includes('proxy.internal'), `${key}=${value} leaks`);
    }
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
});

test('a contentLength that is not a byte count is refused', () => {
  assert.throws(() => buildEnv({ ...base, contentLength: -1 }), {
    name: 'RangeError',
    message: 'cgi env: contentLength must be a whole number of bytes, got -1',
  });
});

const searchCases: Array<[query: string, args: string[]]> = [
  ['a+b', ['a', 'b']],
  ['hello', ['hello']],
  ['b%20c+d%2Be', ['b c', 'd+e']],
  ['caf%C3%A9', ['café']],
  ['a%3Db', ['a=b']], // an encoded '=' is no '='
  ['a=b', []], // a form query, not an indexed one
  ['x+a=b', []],
  ['', []],
  ['-s', []], // CVE-2012-1823: php-cgi would read it as its -s switch
  ['-d+foo', []],
  ['foo+-d', []],
  ['%2ds', []], // the same '-', encoded
  ['%2Ds', []],
  ['a++b', []], // an empty word: §4.4 search-word = 1*schar
  ['a+', []],
  ['%zz', []], // invalid percent-encoding
  ['%', []],
  ['%ff', []], // not UTF-8
  ['a%00b', []], // NUL cannot be in an argument
  ['a-b+c-', ['a-b', 'c-']],
];

for (const [query, args] of searchCases) {
  test(`searchArgs(${JSON.stringify(query)})`, () => assert.deepEqual(searchArgs('GET', query), args));
}

test('searchArgs: words for GET and HEAD only (RFC 3875 §4.4)', () => {
  assert.deepEqual(searchArgs('HEAD', 'a+b'), ['a', 'b']);
  assert.deepEqual(searchArgs('POST', 'a+b'), []);
});

describe('the bytes of a value at exec', () => {
  // node:http reads a header as latin-1: the byte e9 is the character U+00E9.
  for (const [name, value, hex] of [
    ['HTTP_X_NAME', 'caf\u00e9', '636166e9'], // a header's bytes, as they came
    ['HTTP_X_NAME', 'caf\u00c3\u00a9', '636166c3a9'], // UTF-8 sent by a browser, still its bytes
    ['QUERY_STRING', 'a=\u00ff', '613dff'],
    ['REDIRECT_QUERY_STRING', 'a=\u00ff', '613dff'],
    ['CONTENT_TYPE', 'text/plain; x=\u00e9', '746578742f706c61696e3b20783de9'],
    ['SCRIPT_FILENAME', '/srv/caf\u00e9.sh', '2f7372762f636166c3a92e7368'], // a path: text, UTF-8 on disk
    ['PATH_INFO', '/\u00e9', '2fc3a9'],
    ['HTTP_X_NAME', 'snow \u2603', '736e6f7720e29883'], // no byte past ff: cannot be wire bytes, so text
  ] as const) {
    it(`${name}=${JSON.stringify(value)} → ${hex}`, () => assert.equal(valueBytes(name, value).toString('hex'), hex));
  }

  it('for spawn(), which writes UTF-8: header bytes that are UTF-8 become that text; others stay', () => {
    assert.deepEqual(textEnvironment({ HTTP_A: 'caf\u00c3\u00a9', HTTP_B: 'caf\u00e9', PATH_INFO: '/\u00c3\u00a9', HTTP_C: 'plain' }), {
      HTTP_A: 'caf\u00e9', // its UTF-8 is c3 a9, the bytes the client sent
      HTTP_B: 'caf\u00e9', // e9 alone is no UTF-8: spawn() cannot pass it
      PATH_INFO: '/\u00c3\u00a9', // text already
      HTTP_C: 'plain',
    });
  });
});

test("envFromParams: a web server's PARAMS become an environment by CGI mode's rule", () => {
  const kept = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: 'POST',
    SCRIPT_FILENAME: '/srv/cgi-bin/env.sh',
    CONTENT_LENGTH: '3',
    HTTPS: 'on',
    REDIRECT_URL: '/old',
    HTTP_USER_AGENT: 'curl/8.0',
  };
  // What a PARAMS record must not choose for the program it runs:
  const dropped = {
    NODE_OPTIONS: '--require=/tmp/evil.js',
    LD_PRELOAD: '/tmp/evil.so',
    PHP_VALUE: 'auto_prepend_file=/tmp/evil.php',
    HTTP_PROXY: 'http://attacker:3128', // httpoxy
    'HTTP_X=Y': 'not a name a shell can read',
  };
  assert.deepEqual(envFromParams({ ...kept, ...dropped, PATH: '/injected/bin' }), { ...kept, PATH: FIXED_PATH });
});

test('envFromParams keeps everything buildEnv makes: the pool sees what CGI mode sees', () => {
  const env = buildEnv({
    ...base,
    pathInfo: '/x',
    contentLength: 3,
    rawHeaders: raw({ ...headersOf(base), 'content-type': ['text/plain'], authorization: ['Basic eA=='] }),
  });
  assert.deepEqual(envFromParams(env), env);
});
