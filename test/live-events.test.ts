/**
 * /webhist/events over HTTP, as a browser's EventSource reads it: in every mode a request's
 * start, the process it ran on, and its end; under CGI the process's own start and exit; each
 * outcome the timeline colours (2xx, 4xx, timeout, client gone, cut short). And the bound: a
 * viewer that stops reading holds the server to a fixed queue, then hears how many events it
 * lost, where it lost them.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { createCgiMode } from '../modes/cgi/index.ts';
import { createEmbeddedMode } from '../modes/embedded/index.ts';
import { createFastCgiMode } from '../modes/fastcgi/index.ts';
import { liveProcesses, processExited, processStarted, requestArrived, requestEnded, requestRuns, requestsNow } from '../src/live-events.ts';
import { createLogger } from '../src/server/log.ts';
import { eventually } from './support/http.ts';
import { startTestServer, type ModeFactory, type TestServer } from './support/server.ts';

type Message = { type: string; [field: string]: unknown };

/** An EventSource's view of /webhist/events: each `data:` message parsed, waited for by predicate. */
async function openEvents(server: TestServer) {
  const controller = new AbortController();
  const res = await fetch(`${server.url}webhist/events`, { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const messages: Message[] = [];
  const waiting = new Set<() => void>();
  void (async () => {
    let text = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) {
        text += decoder.decode(chunk, { stream: true });
        for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data: '))
            .map((line) => line.slice(6))
            .join('\n');
          if (data) messages.push(JSON.parse(data) as Message);
        }
        for (const wake of waiting) wake();
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    messages,
    /** The first message (from `from` on) that matches, within `ms`. */
    async next(match: (m: Message) => boolean, from = 0, ms = 10_000): Promise<Message> {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = messages.slice(from).find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no such event within ${ms} ms; got ${JSON.stringify(messages.slice(from).map((m) => m.type))}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiting.delete(wake);
            resolve();
          };
          waiting.add(wake);
          setTimeout(wake, 100);
        });
      }
    },
    close: () => controller.abort(),
  };
}

const modes: Array<[string, ModeFactory]> = [
  ['cgi', () => createCgiMode()],
  ['fastcgi', ({ cgiBin, logger }) => createFastCgiMode({ cgiBin, logger, workers: 2, pm: 'static', maxRequests: 0, trace: false })],
  ['embedded', () => createEmbeddedMode({ logger: createLogger({ format: 'clf', quiet: true }) })],
];

for (const [name, mode] of modes) {
  describe(`/webhist/events in ${name} mode`, () => {
    it('says hello, then a request start, the process that ran it, and its end', async () => {
      const server = await startTestServer(mode, {}, { timeoutMs: 5000 });
      after(() => server.stop());
      const events = await openEvents(server);
      after(() => events.close());
      const hello = await events.next((m) => m.type === 'hello');
      assert.equal(hello.mode, name);
      assert.equal(hello.pid, process.pid);

      assert.equal(await (await fetch(`${server.url}cgi-bin/hello.js?live`)).text(), 'Hello, world from a JavaScript handler\n');
      const start = await events.next((m) => m.type === 'request-start' && m.target === '/cgi-bin/hello.js?live');
      const assigned = await events.next((m) => m.type === 'request-assigned' && m.id === start.id);
      const end = await events.next((m) => m.type === 'request-end' && m.id === start.id);
      assert.equal(end.pid, assigned.pid);
      assert.equal(end.status, 200);
      assert.equal(end.outcome, '2xx');
      assert.ok((end.t as number) >= (start.t as number));

      const status = (await (await fetch(`${server.url}webhist/status?json`)).json()) as {
        live: { served: number; processes: Array<{ pid: number; kind: string }> };
        pools?: Array<{ workers: Array<{ pid: number }> }>;
      };
      if (name === 'cgi') {
        // Its own process, started for it and gone with it.
        assert.notEqual(end.pid, process.pid);
        const born = await events.next((m) => m.type === 'process-start' && m.pid === end.pid);
        assert.deepEqual([born.kind, born.script], ['cgi', '/cgi-bin/hello.js']);
        const died = await events.next((m) => m.type === 'process-exit' && m.pid === end.pid);
        assert.equal(died.status, 0);
      } else if (name === 'fastcgi') {
        const workers = status.pools![0]!.workers.map((w) => w.pid);
        assert.ok(workers.includes(end.pid as number), `pid ${end.pid} is one of the pool's workers ${workers.join(', ')}`);
        assert.ok(status.live.processes.some((p) => p.pid === end.pid && p.kind === 'worker'));
      } else {
        assert.equal(end.pid, process.pid);
      }
      assert.ok(status.live.served >= 1);
      // The viewer's own requests are not events.
      assert.ok(!events.messages.some((m) => typeof m.target === 'string' && m.target.startsWith('/webhist/')));
    });
  });
}

describe('/webhist/events: how requests end', () => {
  it('4xx, timeout, client gone and cut short, each as it happened', async () => {
    const server = await startTestServer(() => createCgiMode(), {}, { timeoutMs: 1500 });
    after(() => server.stop());
    const events = await openEvents(server);
    after(() => events.close());
    await events.next((m) => m.type === 'hello');
    const outcome = async (target: string) => {
      const start = await events.next((m) => m.type === 'request-start' && m.target === target);
      return (await events.next((m) => m.type === 'request-end' && m.id === start.id)).outcome;
    };

    await (await fetch(`${server.url}cgi-bin/no-such-script`)).text();
    assert.equal(await outcome('/cgi-bin/no-such-script'), '4xx');

    assert.equal((await fetch(`${server.url}cgi-bin/hang.js`)).status, 504);
    assert.equal(await outcome('/cgi-bin/hang.js'), 'timeout');

    const leaving = new AbortController();
    const left = fetch(`${server.url}cgi-bin/slow.js?ms=5000`, { signal: leaving.signal }).catch(() => 'aborted');
    const slow = await events.next((m) => m.type === 'request-start' && m.target === '/cgi-bin/slow.js?ms=5000');
    await events.next((m) => m.type === 'request-assigned' && m.id === slow.id);
    leaving.abort();
    assert.equal(await left, 'aborted');
    assert.equal(await outcome('/cgi-bin/slow.js?ms=5000'), 'client-gone');

    await (await fetch(`${server.url}cgi-bin/crash.js`)).text().catch(() => 'cut');
    assert.equal(await outcome('/cgi-bin/crash.js'), 'cut');
  });
});

describe('/webhist/events: a viewer that stops reading', () => {
  it('is held to its queue, then told how many events it lost', async () => {
    const maxQueued = 500;
    const server = await startTestServer(() => createCgiMode(), {}, { eventStream: { maxQueued } });
    after(() => server.stop());
    // A client that asks for the stream and then reads nothing: the kernel's buffers fill, then the server's.
    const socket = connect(server.port, '127.0.0.1');
    after(() => socket.destroy());
    socket.write('GET /webhist/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    socket.pause();

    type Viewers = { viewers: Array<{ queued: number; lost: number; waitingForDrain: boolean; bufferedBytes: number }> };
    const viewer = async () => ((await (await fetch(`${server.url}webhist/status?json`)).json()) as Viewers).viewers[0]!;
    // 400,000 events of about 100 bytes each, 40 MB: far more than any socket buffer holds.
    const fakePid = 1 << 22;
    for (let batch = 0; batch < 200; batch++) {
      for (let i = 0; i < 1000; i++) {
        processStarted({ pid: fakePid + i, kind: 'cgi', script: '/cgi-bin/pretend.js' });
        processExited({ pid: fakePid + i, status: 0 });
      }
      await nextTurn();
    }
    const held = await viewer();
    assert.ok(held.waitingForDrain, 'the socket pushed back');
    assert.ok(held.queued <= maxQueued, `at most ${maxQueued} events wait (${held.queued})`);
    assert.ok(held.lost > 0, 'the rest were counted, not kept');
    // What the response holds beyond the kernel's buffers: one batch at most, the queue's worth.
    assert.ok(held.bufferedBytes < maxQueued * 200, `${held.bufferedBytes} bytes buffered`);

    // It reads again: the backlog drains, and 'lost' messages, where the gaps were, count what it missed.
    let text = '';
    let lostSum = 0;
    let sawHello = false;
    const caughtUp = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        const blocks = text.split('\n\n');
        text = blocks.pop()!;
        for (const block of blocks) {
          const found = /^data: \{"type":"lost","count":(\d+)\}$/m.exec(block);
          if (found) lostSum += Number(found[1]);
          if (block.includes('"target":"/cgi-bin/hello.sh"')) sawHello = true;
        }
        if (lostSum >= held.lost && sawHello) resolve();
      });
    });
    socket.resume();
    // And the stream goes on: a request made now reaches it too.
    await fetch(`${server.url}cgi-bin/hello.sh`).then((res) => res.text());
    await caughtUp;
    assert.ok(lostSum >= held.lost, `the 'lost' messages count at least the ${held.lost} seen missing (${lostSum})`);
  });
});

describe('/webhist/events: a bound on viewers', () => {
  it('answers 503 with Retry-After past its bound, and takes a viewer again once one leaves', async () => {
    const server = await startTestServer(() => createCgiMode(), {}, { eventStream: { maxViewers: 1 } });
    after(() => server.stop());
    const first = await openEvents(server);
    await first.next((m) => m.type === 'hello');
    const refused = await fetch(`${server.url}webhist/events`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    await refused.text();
    first.close();
    for (let tries = 0; ; tries++) {
      const again = await fetch(`${server.url}webhist/events`);
      if (again.status === 200 || tries === 50) {
        assert.equal(again.status, 200);
        await again.body?.cancel();
        break;
      }
      await again.text();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});

describe('the in-flight table', () => {
  it('FastCGI: a client that leaves while its small response is on its way leaves no process busy with it', async () => {
    // The worker answers 30 ms late: within the whole-output path's wait, after the client has gone.
    const late = `import { writeFile } from 'node:fs/promises';
export default async function late({ stdout }) {
  await new Promise((resolve) => setTimeout(resolve, 30));
  stdout.write('Content-Type: text/plain\\r\\n\\nlate\\n');
  await writeFile('$TMP/answered', '');
}
`;
    const server = await startTestServer(modes[1]![1], { 'late.js': late }, { timeoutMs: 5000 });
    try {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write('GET /cgi-bin/late.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await sleep(5);
      socket.destroy();
      await eventually(() => existsSync(join(server.dir, 'answered')), 5000, 'the worker to answer');
      // Its END_REQUEST reaches the server a moment after: the gateway then has the whole output.
      await sleep(300);
      const busy = liveProcesses().filter((p) => p.current.includes('/cgi-bin/late.js'));
      assert.deepEqual(busy, [], 'no process lists a request whose client has gone');
    } finally {
      await server.stop();
    }
  });

  it('forgets a request that ended before its script was recorded: no process is left busy with it', () => {
    const pid = 2_000_000_001;
    processStarted({ pid, kind: 'worker' });
    try {
      // The order a client that leaves during the whole-output attempt produces: the front's
      // 'close' ends the request, then the gateway records the run it had started.
      const request = requestArrived('GET', '/cgi-bin/late.js');
      requestEnded(request, 200, false);
      requestRuns(request, '/cgi-bin/late.js', { pid });
      assert.deepEqual(liveProcesses().find((p) => p.pid === pid)?.current, []);
      assert.equal(
        requestsNow().requests.some((r) => r.id === request.id),
        false,
      );
    } finally {
      processExited({ pid, status: 0 });
    }
  });
});
