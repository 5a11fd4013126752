/**
 * The CGI hot path's process start: plain child_process.spawn against execa, running the
 * same script the way src/run/program.ts does (own process group, piped stdio, clean env).
 *
 * usage: node bench/spawn-vs-execa.ts [runs=2000] [concurrency=1,8]
 * Alternates the two in rounds so machine noise hits both alike; reports the median round.
 */
import { spawn } from 'node:child_process';
import { execa } from 'execa';

const runs = Number(process.argv[2] ?? 2000);
const levels = (process.argv[3] ?? '1,8').split(',').map(Number);
const script = ['sh', '-c', 'printf "Content-Type: text/plain\\r\\n\\r\\nhello\\n"'] as const;
const env = { PATH: '/usr/local/bin:/usr/bin:/bin' };

function viaSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(script[0], script.slice(1), { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end();
    child.stdout.resume();
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', () => resolve());
  });
}

async function viaExeca(): Promise<void> {
  await execa(script[0], script.slice(1), { env, extendEnv: false, detached: true, input: '', buffer: false, stdout: 'pipe', stderr: 'pipe' }).catch(() => {});
}

async function round(run: () => Promise<void>, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await run();
    }),
  );
  return (performance.now() - started) / count;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`node ${process.version}, ${runs} starts per runner per concurrency, 5 alternating rounds`);
for (const concurrency of levels) {
  const spawnMs: number[] = [];
  const execaMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    spawnMs.push(await round(viaSpawn, runs / 5, concurrency));
    execaMs.push(await round(viaExeca, runs / 5, concurrency));
  }
  const s = median(spawnMs);
  const e = median(execaMs);
  console.log(
    `c=${concurrency}: spawn ${s.toFixed(3)} ms/start (${(1000 / s).toFixed(0)}/s), execa ${e.toFixed(3)} ms/start (${(1000 / e).toFixed(0)}/s), execa/spawn ${(e / s).toFixed(2)}x`,
  );
}
