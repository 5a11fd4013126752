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

/**
 * Nested objects as aligned `key: value` lines, byte counts in MB. A list of flat rows (workers,
 * processes) is a table; a list of rows that hold lists (pools) is one block per row.
 */
function toText(value: Record<string, unknown>, indent = ''): string {
  const width = Math.max(...Object.keys(value).map((key) => key.length)) + 2;
  return Object.entries(value)
    .map(([key, v]) => {
      if (Array.isArray(v)) return `${indent}${key}:\n${list(v, `${indent}  `)}`;
      if (v && typeof v === 'object') return `${indent}${key}:\n${toText(v as Record<string, unknown>, `${indent}  `)}`;
      return `${indent}${`${key}:`.padEnd(width)}${shown(key, v)}\n`;
    })
    .join('');
}

function list(rows: unknown[], indent: string): string {
  if (!rows.length) return `${indent}(none)\n`;
  const records = rows as Array<Record<string, unknown>>;
  if (!records.every((row) => row && typeof row === 'object')) return `${indent}${rows.join(', ')}\n`;
  const holdsRows = (v: unknown) => Array.isArray(v) && v.some((x) => x && typeof x === 'object');
  if (records.some((row) => Object.values(row).some(holdsRows))) return records.map((row) => toText(row, indent)).join(`${indent}--\n`);
  const columns = [...new Set(records.flatMap(Object.keys))];
  const cells = records.map((row) => columns.map((column) => shown(column, row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (parts: string[]) => `${indent}${parts.map((part, i) => part.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  return line(columns) + cells.map(line).join('');
}

function shown(key: string, value: unknown): string {
  if (typeof value === 'number' && key.endsWith('Bytes')) return `${(value / 1e6).toFixed(1)} MB`;
  if (typeof value === 'number' && key.endsWith('At')) return new Date(value).toISOString();
  if (Array.isArray(value)) return value.map((v) => (v && typeof v === 'object' ? Object.values(v).join(' ') : String(v))).join(', ') || '-';
  return String(value ?? '-');
}
