/**
 * /webhist/status: what the server and its mode are doing, in the php-fpm tradition
 * (pm.status_path): plain text for people, `?json` for programs.
 */
import type { Mode } from '../mode.ts';
import type { Exchange } from './exchange.ts';

export interface StatusFacts {
  mode: Mode;
  startedAt: number;
  running: number;
}

export function statusPage(ex: Exchange, { mode, startedAt, running }: StatusFacts): void {
  const report = {
    server: { pid: process.pid, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), running, rssBytes: process.memoryUsage.rss() },
    ...(mode.status?.() ?? { mode: mode.name }),
  };
  const json = new URLSearchParams(ex.query).has('json');
  const body = json ? `${JSON.stringify(report, null, 2)}\n` : toText(report);
  ex.res.writeHead(200, {
    'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  ex.res.end(ex.method === 'HEAD' ? undefined : body);
}

/** Nested objects as indented `key: value` lines, arrays of rows as one line per row. */
function toText(value: unknown, indent = ''): string {
  if (Array.isArray(value)) return value.map((row) => `${indent}- ${toText(row, '').trim().replaceAll('\n', ', ')}\n`).join('');
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([key, v]) => (v && typeof v === 'object' ? `${indent}${key}:\n${toText(v, `${indent}  `)}` : `${indent}${key}: ${v}\n`))
      .join('');
  }
  return `${indent}${String(value)}\n`;
}
