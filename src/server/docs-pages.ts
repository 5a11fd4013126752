/**
 * The docroot's documents as a learner meets them, ahead of the plain static files:
 *
 * - `*.md` asked for by a browser is the rendered page (./markdown-page.ts). A browser says so
 *   with `Accept: text/html`; anything else (curl's `*\/*`, a program) and any request with
 *   `?raw` gets the markdown itself, from the static server. One URL, two representations,
 *   chosen by proactive negotiation (RFC 9110 §12.1), hence `Vary: Accept` on both (§12.5.5).
 * - `/lessons/index.json` is the list of lessons, generated from their lesson.json files
 *   (./lessons.ts), for the landing page; a real file of that name would be shadowed by it.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { resolveStatic } from './paths.ts';
import { listLessons } from '../docs/lessons.ts';
import { renderMarkdownPage } from '../docs/markdown-page.ts';

const lessonIndexPath = '/lessons/index.json';

/**
 * Answers the request if it is one of the above and resolves to the status sent; resolves to
 * undefined to leave it to the static server. `method` is GET or HEAD.
 */
export async function serveDocument(req: IncomingMessage, res: ServerResponse, docroot: string, path: string, method: string): Promise<number | undefined> {
  if (path === lessonIndexPath) {
    return send(res, method, 'application/json', `${JSON.stringify(await listLessons(docroot), null, 2)}\n`);
  }
  if (!path.endsWith('.md')) return undefined;
  res.setHeader('Vary', 'Accept');
  const query = new URLSearchParams(req.url?.split('?')[1] ?? '');
  if (query.has('raw') || !acceptsHtml(req.headers.accept)) return undefined;
  const target = await resolveStatic(docroot, path);
  if (target === undefined || 'redirect' in target) return undefined;
  const source = await readFile(target.file, 'utf8');
  const rawHref = `${encodeURI(basename(path))}?raw`;
  return send(res, method, 'text/html; charset=utf-8', renderMarkdownPage(source, { fallbackTitle: basename(path), rawHref }).html);
}

/** Does the Accept field name text/html (and not with q=0)? */
export function acceptsHtml(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    return type === 'text/html' && !params.some((param) => /^q=0(\.0*)?$/.test(param));
  });
}

function send(res: ServerResponse, method: string, type: string, body: string): number {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
  res.end(method === 'HEAD' ? undefined : body);
  return 200;
}
