/**
 * The environment a CGI script sees (RFC 3875 §4.1), and the command-line words of an indexed
 * query (§4.4).
 *
 * The environment is built from scratch for every request: PATH is fixed and every other
 * variable comes from the request. Nothing of the server's own environment is copied, so a
 * secret in it never reaches a script, and a stray NODE_OPTIONS or NODE_EXTRA_CA_CERTS never
 * changes how a script's interpreter starts.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface EnvInput {
  method: string;
  /** The request target as received: path and query, still encoded. */
  requestUri: string;
  /** The query, still encoded, without its '?'; '' when there is none. */
  query: string;
  /**
   * The header lines as node's req.rawHeaders has them: name, value, name, value..., in the order
   * received, names as the client spelt them, every line kept (repeats included).
   */
  rawHeaders: readonly string[];
  /** '1.1' */
  httpVersion: string;
  /** The URL path that names the script, e.g. /cgi-bin/hello.sh. */
  scriptName: string;
  /** The script's absolute path on disk. */
  scriptFilename: string;
  /** '' or the decoded path after the script's name, e.g. /x/y. */
  pathInfo: string;
  /** Absolute. */
  documentRoot: string;
  remoteAddress: string;
  remotePort: number;
  serverAddress: string;
  serverPort: number;
  /** Set only when the request has a body: its length once de-chunked. */
  contentLength?: number;
  /** Give the script the client's credentials as HTTP_AUTHORIZATION (Apache's CGIPassAuth). */
  passAuthorization?: boolean;
  serverSoftware: string;
  /** Merged last, over everything else: the server's REDIRECT_* on a local redirect. */
  extra?: Record<string, string>;
}

/** The only search path a script gets. */
export const FIXED_PATH = '/usr/local/bin:/usr/bin:/bin';

/** An HTTP token (RFC 9110 §5.6.2), as in an auth-scheme. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function buildEnv(input: EnvInput): Record<string, string> {
  const remoteAddress = plainAddress(input.remoteAddress);
  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1', // §4.1.4
    SERVER_SOFTWARE: input.serverSoftware, // §4.1.17
    SERVER_NAME: '', // §4.1.14: from Host, below
    SERVER_ADDR: plainAddress(input.serverAddress), // customary (Apache, nginx)
    SERVER_PORT: String(input.serverPort), // §4.1.15
    SERVER_PROTOCOL: `HTTP/${input.httpVersion}`, // §4.1.16
    REQUEST_METHOD: input.method, // §4.1.12
    REQUEST_URI: input.requestUri, // customary: the target as the client sent it
    SCRIPT_NAME: input.scriptName, // §4.1.13
    SCRIPT_FILENAME: input.scriptFilename, // customary; php-cgi runs the file it names
    DOCUMENT_ROOT: input.documentRoot, // customary
    PATH_INFO: input.pathInfo, // §4.1.5
    QUERY_STRING: input.query, // §4.1.7: always set, '' when the URI has no query
    REMOTE_ADDR: remoteAddress, // §4.1.8
    REMOTE_HOST: remoteAddress, // §4.1.9 allows the address: no DNS lookup per request
    REMOTE_PORT: String(input.remotePort), // customary
    // php-cgi's cgi.force_redirect refuses to run unless this is set, so that php-cgi cannot be
    // run directly as /cgi-bin/php; Apache and nginx set it, and so do we.
    REDIRECT_STATUS: '200',
    PATH: FIXED_PATH,
  };
  if (input.pathInfo !== '') {
    // §4.1.6: PATH_INFO mapped onto the document tree, and unset when PATH_INFO is empty.
    env.PATH_TRANSLATED = input.documentRoot.replace(/\/+$/, '') + input.pathInfo;
  }
  const { host, authorization, contentType } = addHttpVariables(env, input.rawHeaders, input.passAuthorization ?? false);
  env.SERVER_NAME = serverName(host, input.serverAddress);
  // §4.1.1: the auth-scheme alone; the credentials stay out (see addHttpVariables).
  const authScheme = authorization?.split(/[ \t]/, 1)[0];
  if (authScheme !== undefined && TOKEN.test(authScheme)) env.AUTH_TYPE = authScheme;
  if (input.contentLength !== undefined) {
    const length = input.contentLength;
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`cgi env: contentLength must be a whole number of bytes, got ${length}`);
    }
    env.CONTENT_LENGTH = String(length); // §4.1.2: set if and only if there is a body
  }
  if (contentType) env.CONTENT_TYPE = contentType; // §4.1.3; the first, as node's req.headers
  return input.extra ? Object.assign(env, input.extra) : env;
}

/**
 * Variables whose values are bytes the client sent, copied as they came: header fields
 * (§4.1.18), CONTENT_TYPE, AUTH_TYPE, the target and its query, and the REDIRECT_ copies of
 * these. node:http reads them as latin-1, one character per byte, and a script must get those
 * bytes again (a header's `é` sent as the byte e9 is e9 in the script's environment, as in
 * Apache's), not their UTF-8 transcoding (c3 a9). Every other value is text (paths, a decoded
 * PATH_INFO), written out as UTF-8, the encoding of file names here.
 */
function isByteValued(name: string): boolean {
  const base = name.startsWith('REDIRECT_') ? name.slice('REDIRECT_'.length) : name;
  return base.startsWith('HTTP_') || base === 'CONTENT_TYPE' || base === 'AUTH_TYPE' || base === 'QUERY_STRING' || base === 'REQUEST_URI';
}

/** A value of the environment as the bytes execve(2) is to pass: see isByteValued. */
export function valueBytes(name: string, value: string): Buffer {
  // A character past U+00FF is no byte: such a value cannot have come from the wire as it is.
  const bytes = isByteValued(name) && !/[^\x00-\xff]/.test(value);
  return Buffer.from(value, bytes ? 'latin1' : 'utf8');
}

/**
 * The environment for a runner that can pass only text (node's spawn() writes every value as
 * UTF-8): a byte-valued value that is valid UTF-8 (what browsers send) becomes that text, so
 * its bytes arrive unchanged; one that is not (a lone e9) cannot be passed as it is and stays
 * transcoded. The spawn helper has no such limit (spawn-helper.ts writes valueBytes).
 */
export function textEnvironment(env: Record<string, string>): Record<string, string> {
  const text: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    text[name] = value;
    if (!isByteValued(name) || /^[\x00-\x7f]*$/.test(value) || /[^\x00-\xff]/.test(value)) continue;
    const bytes = Buffer.from(value, 'latin1');
    const decoded = bytes.toString('utf8');
    if (Buffer.from(decoded, 'utf8').equals(bytes)) text[name] = decoded;
  }
  return text;
}

/**
 * Request headers a script never sees as HTTP_*, and why.
 * - Proxy: httpoxy (CERT VU#797896, 2016). The header would become HTTP_PROXY, which many HTTP
 *   client libraries read as the proxy to send their requests through, handing a client the
 *   script's outgoing traffic.
 * - Proxy-Authorization: credentials for a proxy, which never concern the script.
 * - Content-Length, Content-Type: §4.1.18 says to leave out what other variables carry (Apache and
 *   Go do). CONTENT_LENGTH is the length after de-chunking, which the header may not match.
 */
const WITHHELD = new Set(['proxy', 'proxy-authorization', 'content-length', 'content-type']);

/** What a header name (as a client spelt it) means here: its lower-case form and its variable. */
interface HeaderName {
  lower: string;
  /** HTTP_NAME, or null where the header is never passed on. */
  variable: string | null;
}

/**
 * Only letters, digits and '-' make a name that every shell can read. Anything else is dropped,
 * as Apache does: were '_' kept, a client could send Foo_Bar to collide with, or pass for, the
 * Foo-Bar a front proxy set; other characters make names sh cannot use. Remembered, since every
 * request brings the same few names; bounded, since a client chooses them.
 */
const headerName = remembered((header): HeaderName => {
  const lower = header.toLowerCase();
  const variable = /^[A-Za-z0-9-]+$/.test(header) && !WITHHELD.has(lower) ? `HTTP_${lower.toUpperCase().replaceAll('-', '_')}` : null;
  return { lower, variable };
});

/**
 * §4.1.18: each request header as HTTP_NAME, repeated headers merged into one value, added to
 * `env`. Returns the first Host, Authorization and Content-Type, which other variables are made of.
 */
function addHttpVariables(env: Record<string, string>, rawHeaders: readonly string[], passAuthorization: boolean) {
  let host: string | undefined;
  let authorization: string | undefined;
  let contentType: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const { lower, variable } = headerName(rawHeaders[i] as string);
    const value = rawHeaders[i + 1] as string;
    if (lower === 'host') host ??= value;
    else if (lower === 'content-type') contentType ??= value;
    else if (lower === 'authorization') {
      authorization ??= value;
      // §4.1.18 says the server SHOULD remove credentials: a script that is not meant to see
      // passwords must not find them in its environment (or in `ps e`). Apache's choice too.
      if (!passAuthorization) continue;
    }
    if (variable === null) continue;
    // A repeated header means the same as one with its values joined by ", " (RFC 9110 §5.3),
    // except Cookie, whose pairs are joined by "; " (RFC 6265 §5.4).
    const before = env[variable];
    env[variable] = before === undefined ? value : `${before}${lower === 'cookie' ? '; ' : ', '}${value}`;
  }
  return { host, authorization, contentType };
}

/**
 * §4.1.14: the host the client asked for, from Host without its port. An IPv6 literal keeps its
 * brackets, as the RFC's grammar and Apache have it (Go drops them when a port follows). With no
 * Host, or one that is not a host name or address, the address the request arrived on.
 */
function serverName(host: string | undefined, serverAddress: string): string {
  // Every request of a site asks with the same Host, on the same address: the last answer is kept.
  if (host === lastServerName.host && serverAddress === lastServerName.serverAddress) return lastServerName.name;
  const name = serverNameOf(host, serverAddress);
  lastServerName = { host, serverAddress, name };
  return name;
}
let lastServerName: { host: string | undefined; serverAddress: string; name: string } = { host: undefined, serverAddress: '', name: '' };

function serverNameOf(host: string | undefined, serverAddress: string): string {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]+))(?::[0-9]*)?$/.exec(host ?? '');
  const [, ipv6, name] = match ?? [];
  if (ipv6 !== undefined && isIPv6(ipv6)) return `[${ipv6.toLowerCase()}]`;
  // RFC 3986 reg-name characters; case-insensitive, so lower-cased as Apache does.
  if (name !== undefined && /^[A-Za-z0-9\-._~!$&'()*+,;=%]+$/.test(name)) return name.toLowerCase();
  const address = plainAddress(serverAddress);
  return isIPv6(address) ? `[${address}]` : address;
}

/**
 * An address as §4.1.8 writes it: IPv6 without brackets, IPv4-mapped IPv6 as plain IPv4.
 * Remembered: two addresses per request, and most are the same few (the server's, loopback, a proxy's).
 */
const plainAddress = remembered(plainAddressOf);

function plainAddressOf(address: string): string {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const ipv4 = /^::ffff:([0-9.]+)$/i.exec(bare)?.[1];
  return ipv4 !== undefined && isIPv4(ipv4) ? ipv4 : bare;
}

/**
 * The meta-variables a script may be given by a web server that is not us (FastCGI PARAMS from
 * nginx, say): RFC 3875 §4.1's, the customary ones buildEnv() sets, and what nginx's and
 * Apache's stock configurations add. Everything else in the PARAMS is dropped.
 */
const META_VARIABLES: ReadonlySet<string> = new Set([
  'AUTH_TYPE',
  'CONTENT_LENGTH',
  'CONTENT_TYPE',
  'GATEWAY_INTERFACE',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'QUERY_STRING',
  'REMOTE_ADDR',
  'REMOTE_HOST',
  'REMOTE_IDENT',
  'REMOTE_USER',
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SERVER_SOFTWARE', // §4.1
  'DOCUMENT_ROOT',
  'DOCUMENT_URI',
  'HTTPS',
  'REDIRECT_STATUS',
  'REMOTE_PORT',
  'REQUEST_SCHEME',
  'REQUEST_URI',
  'SCRIPT_FILENAME',
  'SERVER_ADDR', // customary
]);

/**
 * The environment for a script from meta-variables someone else sent: a FastCGI web server's
 * PARAMS. A PARAMS record is the web server's word, and the web server speaks for its clients,
 * so it gets the same rule as a request here: the meta-variables above, HTTP_* (never
 * HTTP_PROXY: httpoxy), and the fixed PATH. A name such as NODE_OPTIONS, LD_PRELOAD or PATH in
 * the PARAMS would otherwise change how the script's interpreter starts, as php-fpm's PHP_VALUE
 * let a PARAMS record change php.ini (issue 15).
 */
export function envFromParams(params: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name in params) {
    const meta = META_VARIABLES.has(name) || name.startsWith('REDIRECT_') || (/^HTTP_[A-Z0-9_]+$/.test(name) && name !== 'HTTP_PROXY');
    if (meta) env[name] = params[name]!;
  }
  env.PATH = FIXED_PATH;
  return env;
}

/**
 * §4.4: the command-line words of an indexed query — one with no unencoded '=' — split on '+'
 * and percent-decoded: `?a+b%20c` runs the script as `script a 'b c'`. The RFC gives them to
 * GET and HEAD requests only.
 *
 * No word may start with '-', or there are no words at all. CVE-2012-1823 (2012): php-cgi read
 * `?-s` as its own -s switch and showed the script's source, and
 * `?-d+allow_url_include%3d1+-d+auto_prepend_file%3dphp://input` ran the request body as code.
 * A word that cannot be an argument — empty, with a NUL, invalid percent-encoding or UTF-8 —
 * also means no words: §4.4 says to make no command line when any part of it cannot be made.
 */
export function searchArgs(method: string, query: string): string[] {
  if ((method !== 'GET' && method !== 'HEAD') || query === '' || query.includes('=')) return [];
  const words: string[] = [];
  for (const encoded of query.split('+')) {
    let word: string;
    try {
      word = decodeURIComponent(encoded);
    } catch {
      return [];
    }
    if (word === '' || word.startsWith('-') || word.includes('\0')) return [];
    words.push(word);
  }
  return words;
}

/**
 * `compute`, remembered per key: the hot path asks the same few questions on every request. The
 * keys come from clients, so at most `limit` are kept, all forgotten at once past it.
 */
function remembered<V>(compute: (key: string) => V, limit = 1000): (key: string) => V {
  const memory = new Map<string, V>();
  return (key) => {
    let value = memory.get(key);
    if (value === undefined) {
      value = compute(key);
      if (memory.size >= limit) memory.clear();
      memory.set(key, value);
    }
    return value;
  };
}
