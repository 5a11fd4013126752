/**
 * Static files from the docroot: the whole job of CERN httpd in 1991, with HTTP/1.1 manners.
 *
 * GET and HEAD; Content-Type by extension; validators (Last-Modified and an ETag made from
 * mtime and size, as nginx makes them) and the conditional requests of RFC 9110 §13;
 * index.html for a directory and a 301 to add its missing slash. Range requests (RFC 9110
 * §14) are not supported: the Range header is ignored and a 200 with the full body is a
 * valid answer to one, announced by `Accept-Ranges: none` (§14.3).
 */
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Exchange } from './exchange.ts';
import { extname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { contentType } from 'mime-types';
import { serveDocument } from './docs-pages.ts';
import { resolveStatic } from './paths.ts';

/** What serving a file needs of an exchange. */
export type StaticExchange = Pick<Exchange, 'req' | 'res' | 'method' | 'query'>;

/**
 * Answers a request for `path` (already normalised by normalizeRequestPath) from `docroot`.
 * The method and query are the exchange's, not the request's: after a CGI local redirect
 * (RFC 3875 §6.2.2) they are the new location's, a GET. Resolves to the status sent, for the
 * access log; rejects only on a server fault (EMFILE, EIO), when nothing has been sent yet
 * and the caller answers 500.
 */
export async function serveStatic(ex: StaticExchange, docroot: string, path: string): Promise<number> {
  const { req, res, method } = ex;
  if (method !== 'GET' && method !== 'HEAD') {
    return sendText(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
  }
  // Markdown rendered for a browser, and the generated list of lessons (src/docs/).
  const document = await serveDocument(req, res, docroot, path, method);
  if (document !== undefined) return document;
  const target = await resolveStatic(docroot, path);
  if (target === undefined) return sendText(res, 404, 'Not Found');
  if ('redirect' in target) {
    // The path is decoded; Location needs it encoded again, and keeps the query as mod_dir does.
    const query = ex.query ? `?${ex.query}` : '';
    const location = target.redirect.split('/').map(encodeURIComponent).join('/') + query;
    return sendText(res, 301, 'Moved Permanently', { Location: location });
  }

  // Open before choosing headers and describe the file actually opened (fstat), so the
  // headers match the bytes even if the file was replaced since resolveStatic looked.
  const handle = await openNoFollow(target.file);
  if (handle === undefined) return sendText(res, 404, 'Not Found');
  let stat: Stats;
  try {
    stat = await handle.stat();
  } catch (error) {
    await handle.close();
    throw error;
  }
  const validators = {
    ETag: `"${Math.floor(stat.mtimeMs).toString(16)}-${stat.size.toString(16)}"`,
    'Last-Modified': new Date(stat.mtimeMs).toUTCString(),
  };
  // Swapped for a directory since resolveStatic looked: as good as gone.
  const status = stat.isFile() ? evaluateConditions(req, validators.ETag, stat.mtimeMs) : 404;
  if (status !== 200 || method === 'HEAD' || stat.size === 0) await handle.close();
  if (status === 404) return sendText(res, 404, 'Not Found');
  if (status === 412) return sendText(res, 412, 'Precondition Failed');
  if (status === 304) {
    // §15.4.5: a 304 carries the validators a 200 would have, and no body.
    writeHead(res, 304, validators).end();
    return 304;
  }
  writeHead(res, 200, {
    'Content-Type': typeOf(target.file),
    'Content-Length': stat.size,
    'Accept-Ranges': 'none',
    ...validators,
  });
  if (method === 'HEAD' || stat.size === 0) {
    res.end();
    return 200;
  }
  // Never more than Content-Length, even if the file grows while it is sent.
  const body = handle.createReadStream({ start: 0, end: stat.size - 1 });
  // The stream owns the handle and closes it however it ends. pipeline destroys both sides
  // when the client goes away mid-body, so no descriptor leaks; that rejection is expected
  // and the status already sent stands.
  await pipeline(body, res).catch(() => {});
  // Truncated while being sent: the client would wait for the missing bytes forever, so
  // close the connection, as nginx does ("file was truncated").
  if (body.bytesRead < stat.size) res.destroy();
  return 200;
}

/**
 * O_NOFOLLOW: the resolved path has no symlink in its last component; if one appeared since,
 * it may point out of the docroot, and opening it fails (ELOOP) instead of following it.
 */
async function openNoFollow(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (['ENOENT', 'ELOOP', 'EACCES'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

type Outcome = 200 | 304 | 412;

/**
 * RFC 9110 §13.2.2, in its order: If-Match, else If-Unmodified-Since (412 when they fail);
 * then If-None-Match, else If-Modified-Since (304 when they fail). A precondition with a
 * validator field present means the date field is ignored.
 */
function evaluateConditions(req: IncomingMessage, etag: string, mtimeMs: number): Outcome {
  const modified = Math.floor(mtimeMs / 1000) * 1000; // HTTP-dates have whole seconds
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesTag(ifMatch, etag, 'strong')) return 412; // §13.1.1
  } else {
    const since = parseDate(req.headers['if-unmodified-since']);
    if (since !== undefined && modified > since) return 412; // §13.1.4
  }
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (matchesTag(ifNoneMatch, etag, 'weak')) return 304; // §13.1.2
  } else {
    const since = parseDate(req.headers['if-modified-since']);
    if (since !== undefined && modified <= since) return 304; // §13.1.3
  }
  return 200;
}

/**
 * Does a field value (`*` or a list of entity-tags) match our tag? §8.8.3.2: the strong
 * comparison wants both tags strong and equal; the weak one ignores the W/ prefix.
 */
function matchesTag(field: string, etag: string, comparison: 'strong' | 'weak'): boolean {
  if (field.trim() === '*') return true; // the file exists, which is all `*` asks
  // A regex, not split(','): an opaque-tag may itself contain a comma.
  for (const [, weak, tag] of field.matchAll(/(W\/)?("[^"]*")/g)) {
    if (tag === etag && (comparison === 'weak' || weak === undefined)) return true;
  }
  return false;
}

/** A valid HTTP-date, or undefined: §13.1.3 and §13.1.4 say to ignore anything else. */
function parseDate(field: string | undefined): number | undefined {
  if (field === undefined) return undefined;
  const time = Date.parse(field);
  return Number.isNaN(time) ? undefined : time;
}

function typeOf(file: string): string {
  // By extension only: contentType("json") would call a file named "json" JSON.
  // Text types get "; charset=utf-8" from mime-types.
  const ext = extname(file);
  return (ext && contentType(ext)) || 'application/octet-stream';
}

/** A short plain-text answer; on HEAD, Node sends the headers and drops the body. */
function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): number {
  const body = `${status} ${text}\n`;
  writeHead(res, status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
  return status;
}

/**
 * The head, its fields set one by one rather than handed to writeHead(): node keeps only the
 * former where res.getHeader() can read them, and the access log reads the Content-Length there.
 */
function writeHead(res: ServerResponse, status: number, headers: Record<string, string | number>): ServerResponse {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  return res.writeHead(status);
}
