/**
 * The server's own environment, cut to what Node and this command line need, once at start-up.
 *
 * Why: a script never gets a variable of ours (its environment is built from scratch,
 * src/cgi/env.ts), but it runs as the same user as the server, and Linux lets a process read
 * /proc/<pid>/environ of every process of its user: the server's, and every ancestor's. A secret
 * exported in the shell that started the server (an API key, a database password) was readable
 * there by any script. So `webhist serve` replaces itself, once, by the same command with only
 * the variables below (execve(2) through Node's process.execve: same pid, a fresh image, so the
 * old environment is gone from /proc and from memory). Every process it starts after that (the
 * spawn helper, FastCGI process managers and workers, cluster processes) inherits at most this.
 * `webhist worker` does the same: the programs it runs could read its environ too.
 *
 * Kept: what Node, chalk and the C library read (paths, locale, terminal, colours, time zone,
 * temporary directory) and NODE_OPTIONS (flags the person starting the server chose for it).
 * Everything else goes, names that look harmless included: an allow-list cannot leak a secret
 * whose name nobody thought of.
 */
import cluster from 'node:cluster';

const kept = new Set([
  ...['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TERM', 'COLORTERM', 'NO_COLOR', 'FORCE_COLOR', 'TZ', 'TMPDIR', 'NODE_OPTIONS'],
  // FastCGI §3.2: the addresses `webhist worker` accepts connections from, set by its launcher.
  'FCGI_WEB_SERVER_ADDRS',
]);

/** Whether the server keeps a variable of the environment it was started with. */
export function isKept(name: string): boolean {
  return kept.has(name) || name.startsWith('LC_');
}

/** The environment the server runs with: `env` less everything not kept. */
export function serverEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => isKept(entry[0]) && entry[1] !== undefined));
}

/**
 * Re-executes this process with the server's environment, unless it has no other variable
 * already (then this is the re-executed process, or one started clean) or a Node parent
 * started it with a channel (a cluster worker: its primary did this, and NODE_UNIQUE_ID and
 * NODE_CHANNEL_FD tie it to that parent and must stay).
 * Returns only when nothing needs doing; where execve is not available (Node before 23.11)
 * it returns too, and the docs say what that leaves readable.
 */
export function reexecWithServerEnvironment(): void {
  if (cluster.isWorker || process.channel || !process.execve) return;
  if (Object.keys(process.env).every(isKept)) return;
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], serverEnvironment(process.env));
}
