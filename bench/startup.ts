/**
 * Start-up, measured: what a user waits for before webhist does anything. hyperfine times the
 * one-shot commands (`--version`, `--help`, one request through `webhist run`), which is where a
 * command's machinery loaded too early shows; then each mode's `serve` is started again and again
 * and timed from spawn to its ready line, the moment a client may connect.
 *
 * usage: node bench/startup.ts [runs=20]   (needs hyperfine: apt-get install hyperfine)
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { packageRoot } from '../src/package-root.ts';
import { median } from './harness/stats.ts';
import { cleanEnv, launch, stop } from './process/launch.ts';
import { findProgram, missing } from './process/programs.ts';

const runs = Number(process.argv[2] ?? 20);
const node = process.execPath;
const bin = join(packageRoot, 'bin/webhist.js');

const hyperfine = findProgram('hyperfine');
if (!hyperfine) {
  process.stderr.write(`startup: ${missing('hyperfine')}\n`);
  process.exit(1);
}

console.log(`node ${process.version}, ${runs} runs each; the server's environment is PATH and HOME only\n`);
const oneShots = ['--version', '--help', 'run cgi-bin/hello.sh'];
const named = oneShots.flatMap((args) => ['--command-name', `webhist ${args}`]);
// -N: no intermediate shell, so the shell's own start-up is not in the numbers.
await execa(hyperfine, ['-N', '--warmup', '3', '--runs', String(runs), ...named, ...oneShots.map((args) => `${node} ${bin} ${args}`)], {
  env: cleanEnv(),
  extendEnv: false,
  cwd: packageRoot,
  stdout: 'inherit',
  stderr: 'inherit',
});

console.log('\nserve: spawn → ready line (ms)');
for (const mode of ['cgi', 'fastcgi', 'embedded']) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const server = launch(`webhist serve --mode ${mode}`, node, [bin, 'serve', '--mode', mode, '--port', '0', '--quiet']);
    try {
      await server.waitFor(/on http:\/\/127\.0\.0\.1:\d+\//);
      times.push(performance.now() - t0);
    } finally {
      await stop([server]);
    }
  }
  const sorted = times.toSorted((a, b) => a - b);
  console.log(
    `  ${mode.padEnd(9)} median ${median(times).toFixed(1).padStart(6)}   min ${sorted[0]!.toFixed(1).padStart(6)}   max ${sorted.at(-1)!.toFixed(1).padStart(6)}`,
  );
}
