/**
 * The report for people at a terminal: what ran and where, a colour table of every scenario,
 * a bar chart of requests per second, webhist against the servers users would pick instead,
 * the size sweep beside the 1996 whitepaper's table, and every caveat in words.
 */
import { paint } from '../../src/ui.ts';
import { caveats } from './caveats.ts';
import { mib, ms, ranged, rate, ratio, scriptAndSize } from './format.ts';
import { takeaways } from './takeaways.ts';
import type { BenchReport } from './report.ts';
import type { ScenarioResult } from './summary.ts';
import { sweepConnections } from './scenarios.ts';

export function renderText(report: BenchReport): string {
  const out: string[] = [header(report), ''];
  const ran = report.scenarios.filter((s) => s.summary);
  if (ran.length) out.push(table(ran), '', barChart(ran));
  const said = takeaways(ran);
  if (said.length) out.push('', paint.bold('what it says'), ...said.map((line) => `  ${line}`));
  if (report.ratios.length) out.push('', ratiosBlock(report));
  if (report.sizeFits.length) out.push('', sweepBlock(report));
  if (report.settings.validate) out.push('', validationBlock(ran));
  out.push('', ...notes(report));
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

function header(r: BenchReport): string {
  const m = r.machine;
  const commit = r.commit ? `commit ${r.commit.sha.slice(0, 10)}${r.commit.dirty ? ' (with uncommitted changes)' : ''}` : 'no git commit';
  const s = r.settings;
  return [
    `${paint.bold('webhist bench')}  ${m.cpuModel} × ${m.cpus}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${m.kernel} · Node ${r.node} · ${commit}`,
    paint.dim(`${r.command}`),
    paint.dim(
      `${s.runs} run${s.runs === 1 ? '' : 's'} × ${s.durationMs / 1000} s each after ${s.warmupMs / 1000} s of warm-up; medians, (min–max) across runs` +
        (s.accessLog ? "; webhist's access log on, buffered (64k)" : ''),
    ),
  ].join('\n');
}

function name(s: ScenarioResult): string {
  const label = s.target.kind === 'peer' ? paint.magenta(s.target.label) : paint.cyan(s.target.label);
  return `${label} ${scriptAndSize(s)}`;
}

function table(scenarios: ScenarioResult[]): string {
  // What fits a terminal: the JSON and HTML reports have every column (p90, max, the harness's load).
  const head = ['scenario', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', 'peak RSS', 'forks/req'];
  const anyFailed = scenarios.some((s) => s.summary!.non2xx + s.summary!.errors > 0);
  if (anyFailed) head.push('failed');
  const rows = scenarios.map((s) => {
    const x = s.summary!;
    const failed = x.non2xx + x.errors;
    const speed = ranged(x.reqPerSec, rate);
    return [
      name(s),
      String(s.connections),
      x.loadGeneratorBoundRuns ? paint.yellow(`${speed} ⚠`) : speed,
      ms(x.latencyMs.p50.median),
      ms(x.latencyMs.p99.median),
      x.cpuMsPerRequest ? ms(x.cpuMsPerRequest.median) : '–',
      x.peakRssBytes ? mib(x.peakRssBytes.median) : '–',
      x.forksPerRequest ? x.forksPerRequest.median.toFixed(2) : '–',
      ...(anyFailed ? [failed ? paint.red(`${x.non2xx} non-2xx, ${x.errors} err`) : '0'] : []),
    ];
  });
  return [align([head.map((h) => paint.bold(h)), ...rows], 'lrrrrrrrr'), paint.dim(legend)].join('\n');
}

/** What each column is, in one place under the table. */
const legend = [
  'req/s: requests answered per second, the median of the runs (their min–max); ⚠ the load generator, not the server, set the pace',
  'p50/p99 ms: half, and 99 in 100, of the requests took at most this long',
  "CPU ms/req: CPU time of the server's whole process tree (server, workers, every script) per request: what the process model costs",
  'peak RSS: the most memory the tree held at once · forks/req: processes and threads started on the whole machine per request',
].join('\n');

/** How wide text shows in a terminal: colour codes take no room. */
const width = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').length;

/** Columns padded to their widest cell; `spec` has one letter per column, l for left-aligned, r for right. */
function align(rows: string[][], spec: string): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => width(row[col] ?? ''))));
  return rows
    .map((row) =>
      row
        .map((cell, col) => {
          const pad = ' '.repeat(widths[col]! - width(cell));
          return spec[col] === 'l' ? cell + pad : pad + cell;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const blocks = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** Linear bars, one group per connection count, so a short bar means a slow server, not a squashed scale. */
function barChart(scenarios: ScenarioResult[]): string {
  const hello = scenarios.filter((s) => s.sizeKb === null);
  if (!hello.length) return '';
  const widest = 40;
  const lines = [paint.bold('requests per second (median; linear scale)')];
  const labelWidth = Math.max(...hello.map((s) => width(name(s))));
  for (const c of [...new Set(hello.map((s) => s.connections))]) {
    const group = hello.filter((s) => s.connections === c);
    const top = Math.max(...group.map((s) => s.summary!.reqPerSec.median));
    lines.push(paint.dim(`  ${c} connection${c === 1 ? '' : 's'}`));
    for (const s of group) {
      const value = s.summary!.reqPerSec.median;
      const eighths = Math.max(1, Math.round((value / top) * widest * 8));
      const bar = '█'.repeat(eighths >> 3) + blocks[eighths & 7];
      const label = name(s) + ' '.repeat(labelWidth - width(name(s)));
      lines.push(`  ${label}  ${(s.target.kind === 'peer' ? paint.magenta : paint.cyan)(bar)} ${rate(value)}`);
    }
  }
  return lines.join('\n');
}

function ratiosBlock(r: BenchReport): string {
  const rows = r.ratios.map((x) => [
    `${x.label}, ${x.connections} conn${x.connections === 1 ? '' : 's'}`,
    `req/s ${ranged(x.reqPerSec, ratio, '×')}`,
    x.cpuMsPerRequest ? `CPU/req ${ranged(x.cpuMsPerRequest, ratio, '×')}` : '',
  ]);
  return [
    paint.bold('webhist against what users run (median of per-run ratios; req/s above 1× means webhist is faster)'),
    align(rows, 'lll').replace(/^/gm, '  '),
  ].join('\n');
}

function sweepBlock(r: BenchReport): string {
  const rows = r.sizeFits.map((f) => {
    const then = r.whitepaper1996.find((w) => w.target === f.target);
    return [
      `${f.label}${f.target === 'static' ? '' : ' big.js'}`,
      `${ms(f.fixedMs)} ms + ${f.msPerKb.toPrecision(2)} ms/KB`,
      paint.dim(`r² ${f.r2.toFixed(3)}`),
      then ? `${then.label}: ${then.fixedMs} ms + ${then.msPerKb} ms/KB` : '',
    ];
  });
  return [
    paint.bold(`size sweep: mean latency at ${sweepConnections} connection = fixed + per KB (least squares), beside 1996`),
    align([['', 'today', '', '1996 (Open Market whitepaper §6)'].map((h) => paint.dim(h)), ...rows], 'llll').replace(/^/gm, '  '),
  ].join('\n');
}

function validationBlock(scenarios: ScenarioResult[]): string {
  const rows = scenarios.flatMap((s) => {
    const x = s.summary!;
    if (!x.wrkRatio) {
      const error = s.runs.flatMap((run) => (run.wrk && 'error' in run.wrk ? [run.wrk.error] : []))[0];
      return error ? [[name(s), String(s.connections), paint.red(`wrk failed: ${error}`)]] : [];
    }
    const busy = x.wrkBusyRuns ? paint.dim(` (machine busy in ${x.wrkBusyRuns} of ${x.runs}: inconclusive there)`) : '';
    const verdict = x.wrkAgrees ? paint.green('agrees within 10%') : paint.yellow('differs by more than 10%');
    const cost = x.wrkUsPerRequest ? paint.dim(`CPU per request: harness ${ms(x.harnessUsPerRequest.median)} µs, wrk ${ms(x.wrkUsPerRequest.median)} µs`) : '';
    return [[name(s), String(s.connections), ranged(x.wrkRatio, ratio, '×'), verdict + busy, cost]];
  });
  if (!rows.length) return paint.dim('--validate: wrk did not run (see below)');
  return [paint.bold('--validate: harness req/s ÷ wrk req/s (wrk -t1, same server, connections and duration)'), align(rows, 'lrrll').replace(/^/gm, '  ')].join(
    '\n',
  );
}

function notes(r: BenchReport): string[] {
  const colour = { error: paint.red, warning: paint.yellow, info: paint.dim };
  return caveats(r).map((c) => colour[c.level](`${c.level === 'info' ? '' : c.level === 'error' ? '✗ ' : '⚠ '}${c.text}`));
}
