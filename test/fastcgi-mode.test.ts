/**
 * FastCGI mode's process management, driven over HTTP: what happens to requests and workers
 * when a worker dies, a handler overruns, a worker retires, and the pool starts on demand.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createFastCgiMode, type FastCgiModeOptions } from '../modes/fastcgi/index.ts';
import type { WorkerInfo } from '../modes/fastcgi/messages.ts';
import { startPool } from '../modes/fastcgi/pool.ts';
import { readProcess } from '../src/proc.ts';
import { eventually, isAlive } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

interface PoolStatus {
  pools: Array<{ name: string; workers: WorkerInfo[] }>;
}

async function start(options: Partial<FastCgiModeOptions> = {}, timeoutMs = 10_000, scripts: Record<string, string> = {}) {
  const server = await startTestServer(
    ({ cgiBin, logger }) => createFastCgiMode({ cgiBin, logger, workers: 2, pm: 'static', maxRequests: 0, trace: false, ...options }),
    scripts,
    { timeoutMs },
  );
  after(() => server.stop());
  return server;
}

async function workers(server: TestServer): Promise<WorkerInfo[]> {
  const status = (await (await fetch(`${server.url}webhist/status?json`)).json()) as PoolStatus;
  return status.pools.find((pool) => pool.name === 'webhist')!.workers;
}

/** The pool's workers once the manager has reported all `count` of them (it reports every 250 ms). */
async function fullPool(server: TestServer, count: number): Promise<WorkerInfo[]> {
  let pool: WorkerInfo[] = [];
  await eventually(async () => (pool = await workers(server)).length === count, 5000, `${count} workers reported`);
  return pool;
}

const get = async (server: TestServer, path: string) => {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, text: await res.text() };
};

describe('fastcgi mode: the pool', () => {
  it('answers 502 for a request whose worker was killed, keeps serving, and becomes whole again', async () => {
    const server = await start();
    const mark = server.mark();
    await fullPool(server, 2);
    const doomed = get(server, 'cgi-bin/slow.js?ms=5000');
    let victim: WorkerInfo | undefined;
    await eventually(async () => (victim = (await workers(server)).find((w) => w.state === 'busy')) !== undefined, 5000, 'a worker busy');
    process.kill(victim!.pid, 'SIGKILL');
    assert.equal((await doomed).status, 502);
    for (let i = 0; i < 5; i++) assert.equal((await get(server, 'cgi-bin/hello.js')).status, 200);
    await eventually(
      async () => {
        const now = await workers(server);
        return now.length === 2 && !now.some((w) => w.pid === victim!.pid);
      },
      5000,
      'the pool respawned its worker',
    );
    await server.waitForError(new RegExp(`worker ${victim!.pid} killed by SIGKILL; respawning`), mark);
    await server.waitForError(/\/cgi-bin\/slow\.js.*closed the connection before END_REQUEST/, mark);
  });

  it('abandons a handler past its time on ABORT_REQUEST, and its worker serves on, the others on it unharmed', async () => {
    const server = await start({ workers: 1 }, 1500);
    const mark = server.mark();
    const [worker] = await fullPool(server, 1);
    const before = await get(server, 'cgi-bin/counter.js');
    const hung = get(server, 'cgi-bin/hang.js');
    // Another request on the same (multiplexed) worker, in flight when hang.js runs out of time.
    await eventually(async () => (await workers(server))[0]?.scripts?.includes('/cgi-bin/hang.js') === true, 5000, 'hang.js running');
    await new Promise((resolve) => setTimeout(resolve, 700));
    const innocent = get(server, 'cgi-bin/slow.js?ms=1000');
    assert.equal((await hung).status, 504);
    assert.equal((await innocent).status, 200);
    const afterwards = await get(server, 'cgi-bin/counter.js');
    // The same process, its module state intact: counter.js counts on.
    assert.match(before.text, new RegExp(`count=1 pid=${worker!.pid}`));
    assert.match(afterwards.text, new RegExp(`count=2 pid=${worker!.pid}`));
    await server.waitForError(/\/cgi-bin\/hang\.js: timed out after 1\.5s.*: ABORT_REQUEST sent/, mark);
    assert.ok(!server.errorsSince(mark).some((line) => /killing worker/.test(line)), 'no worker killed');
  });

  it("kills a worker that cannot answer ABORT_REQUEST: a handler that never yields (php-fpm's request_terminate_timeout)", async () => {
    const server = await start({}, 800);
    const mark = server.mark();
    const before = (await fullPool(server, 2)).map((w) => w.pid);
    assert.equal((await get(server, 'cgi-bin/block.js?ms=20000')).status, 504);
    await server.waitForError(/killing worker \d+: \/cgi-bin\/block\.js timed out .*did not answer ABORT_REQUEST/, mark);
    // Readiness, not a deadline: on a busy machine a fresh Node worker can take seconds to start.
    let now: number[] = [];
    await eventually(
      async () => (now = (await workers(server)).map((w) => w.pid)).filter((pid) => !before.includes(pid)).length === 1,
      30_000,
      'a fresh worker',
    );
    const gone = before.filter((pid) => !now.includes(pid));
    assert.equal(gone.length, 1, 'exactly the worker that ran block.js was replaced');
    await eventually(() => gone.every((pid) => !isAlive(pid)), 30_000, 'the killed worker gone');
  });

  it('replaces a worker it killed for overrunning at once: an ordered kill is no crash, and earns no backoff', async () => {
    const server = await start({ workers: 1 }, 800);
    const mark = server.mark();
    for (let round = 0; round < 2; round++) {
      const [worker] = await fullPool(server, 1);
      assert.equal((await get(server, 'cgi-bin/block.js?ms=20000')).status, 504);
      await server.waitForError(new RegExp(`worker ${worker!.pid} is gone \\(killed: /cgi-bin/block\\.js timed out`), mark);
      await eventually(async () => (await workers(server)).some((w) => w.pid !== worker!.pid), 30_000, 'a fresh worker');
    }
    assert.ok(!server.errorsSince(mark).some((line) => /respawning/.test(line)), 'not counted as crashes');
    assert.equal((await get(server, 'cgi-bin/hello.js')).status, 200);
  });

  it('replaces a stopped worker (SIGSTOP) whose program overran: it cannot answer ABORT_REQUEST', async () => {
    const server = await start({ workers: 1 }, 800);
    const mark = server.mark();
    const [worker] = await fullPool(server, 1);
    // Served once, so the server knows whom its connection reaches (PID_VALUE).
    assert.equal((await get(server, 'cgi-bin/hello.sh')).status, 200);
    process.kill(worker!.pid, 'SIGSTOP');
    try {
      assert.equal((await get(server, 'cgi-bin/hello.sh')).status, 504);
      await server.waitForError(new RegExp(`killing worker ${worker!.pid}: /cgi-bin/hello\\.sh timed out .*did not answer ABORT_REQUEST`), mark);
      await eventually(async () => (await get(server, 'cgi-bin/hello.sh')).status === 200, 30_000, 'hello.sh answered by a fresh worker');
      await eventually(() => !isAlive(worker!.pid), 5000, 'the stopped worker gone');
    } finally {
      if (isAlive(worker!.pid)) process.kill(worker!.pid, 'SIGCONT');
    }
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`starts a new process manager when its own is ended (${signal}), and forgets the workers that went with it`, async () => {
      const server = await start({ workers: 1 });
      const mark = server.mark();
      const [worker] = await fullPool(server, 1);
      const manager = readProcess(worker!.pid)!.ppid;
      process.kill(manager, signal);
      await server.waitForError(new RegExp(`its process manager \\(pid ${manager}\\) .*starting a new manager`), mark);
      await eventually(async () => (await get(server, 'cgi-bin/hello.js')).status === 200, 30_000, 'hello.js answered again');
      const now = await fullPool(server, 1);
      assert.notEqual(now[0]!.pid, worker!.pid, 'the status page shows the new worker, not the dead one');
      assert.notEqual(readProcess(now[0]!.pid)?.ppid, manager, 'under a new manager');
      await eventually(() => !isAlive(worker!.pid), 5000, 'the old worker gone');
    });
  }

  it('answers 502 for a worker that writes what is not FastCGI, and replaces that worker', async () => {
    const garbageWorker = fileURLToPath(new URL('./fixtures/garbage-worker.ts', import.meta.url));
    let pool!: Awaited<ReturnType<typeof startPool>>;
    const server = await startTestServer(async ({ logger }) => {
      pool = await startPool({
        name: 'garbage',
        command: [process.execPath, garbageWorker],
        env: {},
        ownWorkers: true,
        retires: false,
        pm: 'static',
        size: 1,
        minSpare: 1,
        idleTimeoutMs: 10_000,
        logger,
        trace: false,
      });
      return { name: 'fastcgi', run: (request) => pool.run(request), close: () => pool.close() };
    });
    after(() => server.stop());
    const mark = server.mark();
    let first: WorkerInfo | undefined;
    await eventually(() => (first = pool.workers()[0]) !== undefined, 5000, 'the worker started');
    const res = await get(server, 'cgi-bin/hello.js');
    assert.equal(res.status, 502, res.text);
    await server.waitForError(/\/cgi-bin\/hello\.js.*record version 67, want 1/, mark);
    await server.waitForError(new RegExp(`killing worker ${first!.pid}: it broke the FastCGI protocol`), mark);
    await eventually(() => pool.workers().some((w) => w.pid !== first!.pid), 5000, 'a fresh worker');
    assert.equal(isAlive(first!.pid), false);
  });

  it('retires a worker after --max-requests, losing no request', async () => {
    const server = await start({ workers: 1, maxRequests: 3 });
    const mark = server.mark();
    const pids = new Set<string>();
    for (let i = 0; i < 7; i++) {
      const { status, text } = await get(server, 'cgi-bin/counter.js');
      assert.equal(status, 200, text);
      pids.add(/pid=(\d+)/.exec(text)![1]!);
      assert.match(text, new RegExp(`count=${(i % 3) + 1} `), 'a fresh worker starts counting again');
    }
    assert.equal(pids.size, 3);
    await server.waitForError(/worker \d+ retired/, mark);
  });

  it('takes a clean exit for a fault, not a retirement, where workers do not retire', async () => {
    const server = await start({ workers: 1 }, 10_000, { 'quit.js': 'export default () => process.exit(0);\n' });
    const mark = server.mark();
    const [worker] = await fullPool(server, 1);
    assert.equal((await get(server, 'cgi-bin/quit.js')).status, 502);
    await server.waitForError(new RegExp(`worker ${worker!.pid} exited with status 0; respawning`), mark);
    assert.ok(!server.errorsSince(mark).some((line) => /retired/.test(line)), 'not called a retirement');
    assert.equal((await get(server, 'cgi-bin/hello.js')).status, 200);
  });

  it('starts workers on demand (pm ondemand) and reports them on the status page', async () => {
    const server = await start({ pm: 'ondemand', workers: 3 });
    assert.equal((await workers(server)).length, 0);
    assert.equal((await get(server, 'cgi-bin/hello.js')).status, 200);
    // The manager reports at most every 250 ms, and measures RSS once a second.
    let worker: WorkerInfo | undefined;
    await eventually(async () => ([worker] = await workers(server)) && worker?.served === 1 && worker.rssBytes > 0, 5000, 'the worker reported');
    const text = await get(server, 'webhist/status');
    assert.match(text.text, /^pm:\s+ondemand$/m);
    assert.match(text.text, new RegExp(`^\\s+${worker!.pid}\\s+idle\\s+1\\s`, 'm'));
  });
});
