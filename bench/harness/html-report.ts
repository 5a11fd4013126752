/**
 * The --html report: one self-contained file (inline CSS and SVG, no scripts, nothing fetched)
 * that opens in any browser: what ran and where, the caveats, charts of throughput, latency
 * percentiles, CPU per request, memory and the size sweep, then every number in a table.
 */
import { caveats } from './caveats.ts';
import { mib, ms, ranged, rate, ratio, scriptAndSize, speedCells } from './format.ts';
import type { BenchReport } from './report.ts';
import type { ScenarioResult } from './summary.ts';
import { sweepConnections } from './scenarios.ts';
import { barChart, colourOf, colours, dotChart, escapeXml as e, linePanel, targetColours, type Bar } from './svg.ts';
import { takeaways } from './takeaways.ts';

const percentileColours = { p50: '#3182ce', p90: '#d69e2e', p99: '#e53e3e', max: '#718096' };

export function renderHtml(report: BenchReport): string {
  const ran = report.scenarios.filter((s) => s.summary);
  const hello = ran.filter((s) => s.sizeKb === null);
  const sections = [
    overview(report),
    hello.length &&
      section('Throughput', 'Requests per second, median across runs; the whisker spans the slowest to the fastest run. Linear scale.', throughput(hello)),
    hello.length &&
      section(
        'Latency',
        'Percentiles of every response in the measured window, median across runs. Logarithmic scale: the modes differ by decades.',
        latency(hello),
      ),
    hello.some((s) => s.summary!.cpuMsPerRequest) &&
      section(
        'CPU per request',
        'CPU time of the server’s whole process tree (server, workers, reaped CGI children) divided by responses. Logarithmic scale.',
        cpu(hello),
      ),
    hello.some((s) => s.summary!.peakRssBytes) &&
      section('Memory', 'Peak resident memory of the whole process tree, sampled every 100 ms. Linear scale.', memory(hello)),
    report.ratios.length &&
      section(
        'Against what users run',
        'Median of per-run ratios (run i of both ran in the same round). Above 1× means webhist is faster (req/s) or costlier (CPU).',
        ratios(report),
      ),
    report.sizeFits.length &&
      section(
        'Size sweep, beside 1996',
        `Mean latency at ${sweepConnections} connection for responses of each size, and the least-squares line fixed + per KB.`,
        sweep(report),
      ),
    report.settings.validate &&
      section(
        'Checked against wrk',
        'The harness’s req/s divided by wrk’s (wrk -t1, same server, connections and duration, right after), median across runs; within 10% counts as agreeing. Consecutive windows on a busy machine differ on their own, so runs where other processes used a quarter of a core or more are called inconclusive.',
        validation(ran),
      ),
    ran.length &&
      section(
        'Every number',
        'Medians, with the min–max across runs in brackets. The JSON report (--json) has each run and its latency histogram.',
        table(ran),
      ),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>webhist bench — ${e(report.startedAt.slice(0, 16).replace('T', ' '))}</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; color: ${colours.text}; max-width: 1080px; margin: 2em auto; padding: 0 1em; }
  h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid ${colours.grid}; }
  code { font-size: 0.9em; background: #f7fafc; padding: 0.1em 0.3em; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; } dt { color: ${colours.axis}; }
  table { border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums; }
  th, td { padding: 0.25em 0.45em; border-bottom: 1px solid ${colours.grid}; text-align: right; white-space: nowrap; }
  th:first-child, td:first-child, table.text td, table.text th, .words { text-align: left; }
  .panels { display: flex; flex-wrap: wrap; gap: 0 1em; }
  .wide { overflow-x: auto; } .caveats li.error { color: #c53030; } .caveats li.warning { color: #975a16; }
  svg text { font: 12px system-ui, sans-serif; fill: ${colours.text}; } svg .tick, svg .note { fill: ${colours.axis}; } svg .caption { fill: ${colours.axis}; font-style: italic; }
  .key span { display: inline-block; width: 0.8em; height: 0.8em; margin: 0 0.3em 0 1em; vertical-align: -0.05em; }
</style>
</head>
<body>
${sections.filter(Boolean).join('\n')}
</body>
</html>
`;
}

function section(title: string, explanation: string, body: string): string {
  return `<section><h2>${e(title)}</h2><p>${e(explanation)}</p>${body}</section>`;
}

function overview(r: BenchReport): string {
  const m = r.machine;
  const s = r.settings;
  const commit = r.commit ? `${r.commit.sha}${r.commit.dirty ? ' (with uncommitted changes)' : ''}` : 'not a git checkout';
  const list = caveats(r).map((c) => `<li class="${c.level}">${e(c.text)}</li>`);
  return `<h1>webhist bench</h1>
<p>CGI, FastCGI and embedded handlers in webhist${s.peers ? ', beside the servers users would pick instead,' : ''} each started as its own process and driven from the harness process over keep-alive connections.</p>
<dl>
<dt>command</dt><dd><code>${e(r.command)}</code></dd>
<dt>when</dt><dd>${e(r.startedAt)} to ${e(r.finishedAt)}</dd>
<dt>machine</dt><dd>${e(`${m.cpuModel} × ${m.cpus}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${m.kernel} (${m.arch})`)}</dd>
<dt>Node</dt><dd>${e(r.node)}</dd>
<dt>commit</dt><dd><code>${e(commit)}</code></dd>
<dt>method</dt><dd>${e(`${s.runs} run${s.runs === 1 ? '' : 's'} of every scenario, interleaved; ${s.durationMs / 1000} s measured after ${s.warmupMs / 1000} s of warm-up; a fresh server for each`)}</dd>
</dl>
${key(r)}
${takeawayList(r)}
${list.length ? `<h2>Read this first</h2><ul class="caveats">${list.join('')}</ul>` : ''}`;
}

/** The colour key: each target that ran, once, peers as one entry (only when they ran). */
function key(r: BenchReport): string {
  const seen = new Map<string, string>();
  for (const s of r.scenarios) {
    if (!s.summary) continue;
    const name = s.target.kind === 'peer' ? 'peers' : s.target.label;
    if (!seen.has(name)) seen.set(name, colourOf(s.target));
  }
  return `<p class="key">${[...seen].map(([name, c]) => `<span style="background:${c}"></span>${e(name)}`).join('')}</p>`;
}

function takeawayList(r: BenchReport): string {
  const said = takeaways(r.scenarios.filter((s) => s.summary));
  return said.length ? `<h2>What it says</h2><ul>${said.map((line) => `<li>${e(line)}</li>`).join('')}</ul>` : '';
}

function label(s: ScenarioResult): string {
  return `${s.target.label} ${scriptAndSize(s)} · ${s.connections}c`;
}

function colour(s: ScenarioResult): string {
  return colourOf(s.target);
}

function throughput(rows: ScenarioResult[]): string {
  const bars: Bar[] = rows.map((s) => {
    const x = s.summary!.reqPerSec;
    return {
      label: label(s),
      value: x.median,
      min: x.min,
      max: x.max,
      colour: colour(s),
      note: rate(x.median) + (s.summary!.loadGeneratorBoundRuns ? ' ⚠' : ''),
    };
  });
  return barChart(bars, { title: 'requests per second', caption: 'requests per second' });
}

function latency(rows: ScenarioResult[]): string {
  const dots = rows.map((s) => ({
    label: label(s),
    dots: (['p50', 'p90', 'p99', 'max'] as const).map((p) => ({ name: p, value: s.summary!.latencyMs[p].median, colour: percentileColours[p] })),
  }));
  return dotChart(dots, { title: 'latency percentiles', caption: 'milliseconds (log scale)', show: (v) => `${ms(v)} ms` });
}

function cpu(rows: ScenarioResult[]): string {
  const bars: Bar[] = rows.flatMap((s) => {
    const x = s.summary!.cpuMsPerRequest;
    return x ? [{ label: label(s), value: x.median, min: x.min, max: x.max, colour: colour(s), note: `${ms(x.median)} ms` }] : [];
  });
  return barChart(bars, { title: 'CPU per request', caption: 'CPU milliseconds per request (log scale)', log: true });
}

function memory(rows: ScenarioResult[]): string {
  const bars: Bar[] = rows.flatMap((s) => {
    const x = s.summary!.peakRssBytes;
    return x ? [{ label: label(s), value: x.median / 2 ** 20, min: x.min / 2 ** 20, max: x.max / 2 ** 20, colour: colour(s), note: mib(x.median) }] : [];
  });
  return barChart(bars, { title: 'peak RSS', caption: 'MiB, whole process tree' });
}

function ratios(r: BenchReport): string {
  const rows = r.ratios.map(
    (x) =>
      `<tr><td>${e(x.label)}</td><td>${x.connections}</td><td>${ranged(x.reqPerSec, ratio, '×')}</td><td>${x.cpuMsPerRequest ? ranged(x.cpuMsPerRequest, ratio, '×') : '–'}</td></tr>`,
  );
  return `<table><tr><th>comparison</th><th>connections</th><th>req/s</th><th>CPU per request</th></tr>${rows.join('')}</table>`;
}

function sweep(r: BenchReport): string {
  const panels = r.sizeFits.map((f) =>
    linePanel(
      {
        label: `${f.label} ${f.target === 'static' ? 'files' : 'big.js'}`,
        colour: targetColours[f.target] ?? colours.axis,
        points: f.points.map((p) => ({ x: p.kb, y: p.meanMs })),
        line: { fixed: f.fixedMs, slope: f.msPerKb },
      },
      { xCaption: 'response size, KB', yCaption: 'mean latency, ms', show: (v) => `${ms(v)} ms` },
    ),
  );
  const rows = r.sizeFits.map((f) => {
    const then = r.whitepaper1996.find((w) => w.target === f.target);
    return `<tr><td>${e(f.label)}</td><td>${ms(f.fixedMs)} ms + ${f.msPerKb.toPrecision(2)} ms/KB</td><td>${f.r2.toFixed(3)}</td><td>${then ? e(`${then.label}: ${then.fixedMs} ms + ${then.msPerKb} ms/KB`) : '–'}</td></tr>`;
  });
  return `<div class="panels">${panels.join('')}</div><table class="text"><tr><th>today</th><th>line</th><th>r²</th><th>1996, Open Market whitepaper §6</th></tr>${rows.join('')}</table>`;
}

function validation(rows: ScenarioResult[]): string {
  const body = rows.map((s) => {
    const x = s.summary!;
    const error = s.runs.flatMap((run) => (run.wrk && 'error' in run.wrk ? [run.wrk.error] : []))[0];
    const busy = x.wrkBusyRuns ? ` (machine busy in ${x.wrkBusyRuns} of ${x.runs}: inconclusive there)` : '';
    const verdict = x.wrkRatio ? (x.wrkAgrees ? 'agrees within 10%' : 'differs by more than 10%') + busy : `wrk did not run${error ? `: ${error}` : ''}`;
    const wrkCost = x.wrkUsPerRequest ? ms(x.wrkUsPerRequest.median) : '–';
    return `<tr><td>${e(label(s))}</td><td>${x.wrkRatio ? ranged(x.wrkRatio, ratio, '×') : '–'}</td><td>${ms(x.harnessUsPerRequest.median)}</td><td>${wrkCost}</td><td class="words">${e(verdict)}</td></tr>`;
  });
  return `<table><tr><th>scenario</th><th>harness ÷ wrk</th><th>harness CPU µs/req</th><th>wrk CPU µs/req</th><th class="words">verdict</th></tr>${body.join('')}</table>`;
}

function table(rows: ScenarioResult[]): string {
  const head = [
    'scenario',
    'conns',
    'req/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'non-2xx',
    'errors',
    'CPU ms/req',
    'peak RSS',
    'forks/req',
    'harness CPU',
  ];
  const body = rows.map((s) => {
    const x = s.summary!;
    const cells = [
      `${s.target.label} ${scriptAndSize(s)}`,
      String(s.connections),
      ...speedCells(x),
      String(x.non2xx),
      String(x.errors),
      x.cpuMsPerRequest ? ranged(x.cpuMsPerRequest, ms) : '–',
      x.peakRssBytes ? mib(x.peakRssBytes.median) : '–',
      x.forksPerRequest ? x.forksPerRequest.median.toFixed(2) : '–',
      `${x.harnessCpuCores.median.toFixed(2)}${x.loadGeneratorBoundRuns ? ' ⚠' : ''}`,
    ];
    return `<tr>${cells.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`;
  });
  return `<div class="wide"><table><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr>${body.join('')}</table></div>`;
}
