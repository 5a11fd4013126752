/**
 * What an open WebSocket costs in each process model (docs/websocket.md, "What a connection
 * costs"): N connections held open to the same echo, as a shell program and as a JavaScript
 * handler under CGI mode, and as the handler in embedded mode; the server's process tree counted
 * before and while they are open (processes, and RSS summed over the tree, which counts pages
 * shared between processes once per process: an upper bound, as `ps` shows it).
 *
 * usage: node bench/websocket-connections.ts [connections=100]
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { launch, stop } from './process/launch.ts';
import { readProcessTable, treeOf, treeRssBytes } from '../src/proc.ts';
import { packageRoot } from '../src/package-root.ts';

const connections = Number(process.argv[2] ?? 100);
const bin = join(packageRoot, 'bin/webhist.js');
const variants = [
  { mode: 'cgi', script: 'upper.sh' },
  { mode: 'cgi', script: 'upper.js' },
  { mode: 'embedded', script: 'upper.js' },
];

function tree(pid: number): { processes: number; rssBytes: number } {
  const found = treeOf(readProcessTable(), [pid]);
  return { processes: found.length, rssBytes: treeRssBytes(found) };
}

/** Opens a connection and waits for one echo, so its script is surely running. */
async function connect(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send('ping');
  await new Promise((resolve) => ws.once('message', resolve));
  return ws;
}

const dir = await mkdtemp(join(tmpdir(), 'webhist-ws-bench-'));
try {
  await writeFile(join(dir, 'upper.sh'), '#!/bin/sh\nwhile read -r line; do echo "$line" | tr a-z A-Z; done\n');
  await chmod(join(dir, 'upper.sh'), 0o755);
  await writeFile(
    join(dir, 'upper.js'),
    'export default function ({ stdout }) { stdout.write("Content-Type: text/plain\\r\\n\\r\\nconnect with a WebSocket\\n"); }\n' +
      'export async function websocket({ messages, send }) { for await (const m of messages) send(m.toUpperCase()); }\n',
  );
  console.log(`${connections} WebSocket connections held open, each after one echo; the server's process tree:`);
  console.log('mode       script     processes (idle → open)   RSS MiB (idle → open)   per connection');
  for (const { mode, script } of variants) {
    const server = launch('webhist', process.execPath, [
      bin,
      'serve',
      '--mode',
      mode,
      '--port',
      '0',
      '--quiet',
      '--cgi-bin',
      dir,
      '--max-concurrency',
      String(connections + 1),
    ]);
    try {
      const url = (await server.waitFor(/on http:\/\/(127\.0\.0\.1:\d+)\//, 15_000))[1]!;
      const idle = tree(server.pid);
      const open: WebSocket[] = [];
      for (let i = 0; i < connections; i++) open.push(await connect(`ws://${url}/cgi-bin/${script}`));
      const busy = tree(server.pid);
      const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);
      const perKiB = (busy.rssBytes - idle.rssBytes) / connections / 1024;
      const perProcesses = (busy.processes - idle.processes) / connections;
      console.log(
        `${mode.padEnd(10)} ${script.padEnd(10)} ${`${idle.processes} → ${busy.processes}`.padEnd(25)} ${`${mib(idle.rssBytes)} → ${mib(busy.rssBytes)}`.padEnd(23)} ${perKiB.toFixed(0)} KiB, ${perProcesses.toFixed(2)} processes`,
      );
      for (const ws of open) ws.close(1000);
    } finally {
      await stop([server]);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
