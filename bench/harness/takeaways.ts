/**
 * What a run says, in plain words: the sentences a learner should take away, computed from the
 * scenarios that ran (CPU per request is the measure: it is what the process model costs, and it
 * moves far less with a busy machine than requests per second do). A sentence whose scenarios did
 * not run is left out.
 */
import { ms } from './format.ts';
import type { ScenarioResult } from './summary.ts';

/** Median CPU ms per request of `target` serving `script`, at the most connections both sides ran. */
function cpu(ran: ScenarioResult[], target: string, script: string, connections: number): number | undefined {
  const s = ran.find((x) => x.target.name === target && x.script === script && x.sizeKb === null && x.connections === connections);
  return s?.summary?.cpuMsPerRequest?.median;
}

/** The highest connection count at which every named target ran `script`. */
function sharedConnections(ran: ScenarioResult[], targets: string[], script: string): number | undefined {
  const counts = targets.map((t) => new Set(ran.filter((x) => x.target.name === t && x.script === script && x.sizeKb === null).map((x) => x.connections)));
  const shared = [...(counts[0] ?? [])].filter((c) => counts.every((set) => set.has(c)));
  return shared.length ? Math.max(...shared) : undefined;
}

/** CPU per request of each target for one script, or undefined unless all of them ran it. */
function compare(ran: ScenarioResult[], targets: string[], script: string): { c: number; values: number[] } | undefined {
  const c = sharedConnections(ran, targets, script);
  if (c === undefined) return undefined;
  const values = targets.map((t) => cpu(ran, t, script, c));
  return values.every((v) => v !== undefined && v > 0) ? { c, values: values as number[] } : undefined;
}

const times = (a: number, b: number) => `${(a / b).toFixed(a / b >= 10 ? 0 : 1)}×`;

export function takeaways(ran: ScenarioResult[]): string[] {
  const said: string[] = [];
  const js = compare(ran, ['cgi', 'fastcgi', 'embedded'], 'hello.js');
  if (js) {
    const [cgi, fastcgi, embedded] = js.values as [number, number, number];
    said.push(
      `A Node process per request (CGI) costs ${ms(cgi)} ms of CPU for hello.js; the same handler in a persistent FastCGI worker ${ms(fastcgi)} ms, and inside the server ${ms(embedded)} ms (${times(cgi, embedded)} less than CGI).`,
    );
  }
  const sh = compare(ran, ['cgi', 'fastcgi'], 'hello.sh');
  if (sh) {
    const [cgi, fastcgi] = sh.values as [number, number];
    said.push(
      `FastCGI does not help a shell script: its worker still starts one process per request, as fcgiwrap does (${ms(fastcgi)} ms of CPU per request under FastCGI, ${ms(cgi)} under CGI).`,
    );
  }
  const fork = compare(ran, ['cgi', 'cgi-fork'], 'hello.sh');
  if (fork) {
    const [helper, forked] = fork.values as [number, number];
    said.push(
      `Forking the Node server for every request costs ${ms(forked)} ms of CPU for hello.sh; starting it from the small spawn helper, as Apache's mod_cgid does, ${ms(helper)} ms.`,
    );
  }
  const lighttpd = compare(ran, ['cgi', 'lighttpd-cgi'], 'hello.sh');
  if (lighttpd) {
    const [ours, theirs] = lighttpd.values as [number, number];
    const why =
      ours / theirs < 1.5
        ? 'most of a CGI request is the process itself, which no server avoids'
        : "the difference is webhist's own work around each process, not CGI's";
    said.push(`webhist's CGI costs ${times(ours, theirs)} the CPU of lighttpd's mod_cgi per request (${ms(ours)} against ${ms(theirs)} ms): ${why}.`);
  }
  return said;
}
