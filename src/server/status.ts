/**
 * The server's own pages, all under /webhist/, routed here and nowhere else:
 * - /webhist/status: what the server and its mode are doing, in the php-fpm tradition
 *   (pm.status_path): for a browser (Accept: text/html) the live page (docs/status/), for
 *   programs plain text, or JSON with `?json` (`?text` forces text);
 * - /webhist/status/live.js, live.css: the live page's own script and style (no build, no CDN);
 * - /webhist/events: the live view's Server-Sent Events (./event-stream.ts, docs/status.md).
 */
import cluster from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { liveProcesses, requestsNow, totals } from '../live-events.ts';
import type { Mode } from '../mode.ts';
import { packageRoot } from '../package-root.ts';
import { clockTicks, pageSize, procAvailable, readProcessTable, treeCpuTicks, treeOf, type ProcStat } from '../proc.ts';
import type { ProcessStatus } from '../mode.ts';
import { createEventStream, type EventStreamOptions } from './event-stream.ts';
import { replyText, type Exchange } from './exchange.ts';

export interface StatusFacts {
  mode: Mode;
  startedAt: number;
  /** Scripts running now (the gateway's count). */
  running(): number;
  /** The event stream's bounds, where the defaults will not do (tests). */
  eventStream?: Pick<EventStreamOptions, 'maxQueued' | 'maxViewers'>;
}

/** The live page's files, by the name they are served under: a fixed list, so no path reaches the disk. */
const pageFiles: Record<string, { file: string; type: string }> = {
  '/webhist/status': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/webhist/status/live.js': { file: 'live.js', type: 'text/javascript; charset=utf-8' },
  '/webhist/status/live.css': { file: 'live.css', type: 'text/css; charset=utf-8' },
};
const pageDir = join(packageRoot, 'docs', 'status');

export function createStatusRoutes(facts: StatusFacts) {
  const measure = treeMeter();
  const stats = () => liveStats(facts, measure());
  const events = createEventStream({ stats, ...facts.eventStream });

  /** Serves a /webhist/ path, or says it is not one of ours. */
  async function serve(ex: Exchange, path: string): Promise<void> {
    if (path === '/webhist/events') return events.open(ex);
    const query = new URLSearchParams(ex.query);
    const wantsPage = path !== '/webhist/status' || (!query.has('json') && !query.has('text') && acceptsHtml(ex));
    const page = pageFiles[path];
    if (page && wantsPage) return sendFile(ex, page.file, page.type);
    if (path !== '/webhist/status') return replyText(ex, 404, `Not Found: ${path}`);
    const report = {
      server: {
        pid: process.pid,
        uptimeSeconds: Math.round((Date.now() - facts.startedAt) / 1000),
        running: facts.running(),
        rssBytes: process.memoryUsage.rss(),
      },
      ...(facts.mode.status?.() ?? { mode: facts.mode.name }),
      live: liveSummary(facts, measure()),
      viewers: events.viewers(),
    };
    const json = query.has('json');
    const body = json ? `${JSON.stringify(report, null, 2)}\n` : toText(report);
    send(ex, json ? 'application/json' : 'text/plain; charset=utf-8', body);
  }

  return { serve, viewers: events.viewers, close: events.close };
}

function acceptsHtml(ex: Exchange): boolean {
  return /\btext\/html\b/.test(ex.req.headers.accept ?? '');
}

async function sendFile(ex: Exchange, file: string, type: string): Promise<void> {
  send(ex, type, await readFile(join(pageDir, file)));
}

function send(ex: Exchange, type: string, body: string | Buffer): void {
  ex.res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  ex.res.end(ex.method === 'HEAD' ? undefined : body);
}

// ── what the live view reports ─────────────────────────────────────────────────────────────────

interface TreeNow {
  /** Every process of the server's tree now, by pid (empty without /proc). */
  table: Map<number, ProcStat>;
  processes?: number;
  rssBytes?: number;
  cpuMsPerRequest?: number;
}

/**
 * The server's whole process tree, the way `webhist bench` measures it (src/proc.ts): CPU of
 * every process in it plus what each reaped, RSS summed. Its root is this process, or under
 * --processes the supervisor, so the pool is seen whole. CPU per request is taken over the last
 * five seconds: tree CPU spent, divided by requests finished (the viewer's own requests
 * included: watching is not free, and this says how much).
 */
function treeMeter(): () => TreeNow {
  const samples: Array<{ t: number; cpuTicks: number; served: number }> = [];
  const root = cluster.isWorker ? process.ppid : process.pid;
  return () => {
    if (!procAvailable) return { table: new Map() };
    const tree = treeOf(readProcessTable(), [root]);
    const now = { t: Date.now(), cpuTicks: treeCpuTicks(tree), served: totals.served };
    samples.push(now);
    while (samples.length > 2 && samples[0]!.t < now.t - 5000) samples.shift();
    const first = samples[0]!;
    const served = now.served - first.served;
    return {
      table: new Map(tree.map((p) => [p.pid, p])),
      processes: tree.length,
      rssBytes: tree.reduce((sum, p) => sum + p.rssPages, 0) * pageSize,
      ...(served > 0 ? { cpuMsPerRequest: ((now.cpuTicks - first.cpuTicks) * 1000) / clockTicks / served } : {}),
    };
  };
}

/** One row of the process table. */
interface ProcessRow {
  pid: number;
  kind: string;
  about?: string;
  state: 'busy' | 'idle';
  served: number;
  current: string[];
  rssBytes?: number;
  startedAt: number;
}

function processRows(mode: Mode, tree: TreeNow): ProcessRow[] {
  const rss = (pid: number) => {
    const pages = tree.table.get(pid)?.rssPages;
    return pages === undefined ? {} : { rssBytes: pages * pageSize };
  };
  const rows: ProcessRow[] = liveProcesses().map(({ pid, kind, script, about, served, current, startedAt }) => ({
    pid,
    kind,
    ...(about ? { about } : {}),
    // A CGI program exists for its one request: alive is busy.
    state: kind === 'cgi' || current.length ? 'busy' : 'idle',
    served,
    current: current.length ? current : script ? [script] : [],
    startedAt,
    ...rss(pid),
  }));
  // --processes N: the other server processes, as their last heartbeat described them.
  const peers = (mode.status?.().processes ?? []) as ProcessStatus[];
  for (const peer of peers) {
    if (peer.pid === process.pid || typeof peer.pid !== 'number') continue;
    rows.push({
      pid: peer.pid,
      kind: 'peer',
      state: peer.state,
      served: peer.served,
      current: peer.scripts,
      startedAt: peer.startedAt,
      rssBytes: peer.rssBytes,
    });
  }
  // The server first, then the processes that make its pool, then the rest as they started.
  const rank: Record<string, number> = { server: 0, peer: 1, manager: 2, worker: 3 };
  return rows.sort((a, b) => (rank[a.kind] ?? 4) - (rank[b.kind] ?? 4) || a.startedAt - b.startedAt);
}

function liveSummary(facts: StatusFacts, tree: TreeNow) {
  const now = requestsNow();
  return {
    requests: totals.requests,
    served: totals.served,
    processesStarted: totals.processesStarted,
    processesAlive: tree.processes,
    inFlight: now.inFlight,
    queued: now.queued,
    cpuMsPerRequest: tree.cpuMsPerRequest,
    treeRssBytes: tree.rssBytes,
    processes: processRows(facts.mode, tree),
    inFlightRequests: now.requests,
  };
}

/** The `hello` and `stats` messages of the event stream: the summary, and whose it is. */
function liveStats(facts: StatusFacts, tree: TreeNow): Record<string, unknown> {
  return { t: Date.now(), mode: facts.mode.name, pid: process.pid, startedAt: facts.startedAt, ...liveSummary(facts, tree) };
}

// ── the text form ──────────────────────────────────────────────────────────────────────────────

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
  const line = (parts: string[]) =>
    `${indent}${parts
      .map((part, i) => part.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  return line(columns) + cells.map(line).join('');
}

function shown(key: string, value: unknown): string {
  if (typeof value === 'number' && key.endsWith('Bytes')) return `${(value / 1e6).toFixed(1)} MB`;
  if (typeof value === 'number' && key.endsWith('At')) return new Date(value).toISOString();
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(2);
  if (Array.isArray(value)) return value.map((v) => (v && typeof v === 'object' ? Object.values(v).join(' ') : String(v))).join(', ') || '-';
  return String(value ?? '-');
}
