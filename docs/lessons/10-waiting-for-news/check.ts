/**
 * Lesson 10's checks: the learner's chat (any language) in CGI mode. Messages by POST; a GET
 * that answers at once when there is news and otherwise is held until there is (long polling);
 * ten held GETs all answered by one POST; and, on a second server started with
 * --max-concurrency 10, ten held GETs that fill every slot, so the eleventh gets 503.
 */
import { basename } from 'node:path';
import type { CheckContext, Response, Suite } from '../../../src/learn/checks.ts';

const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
const words = ['ajax', 'comet', 'bayeux', 'xhr', 'iframe', 'jsonp', 'cometd', 'pushlet'];
const word = (t: CheckContext) => `${words[Math.floor(t.random() * words.length)]}-${Math.floor(t.random() * 100_000)}`;
const chat = (t: CheckContext) => `/cgi-bin/${basename(t.files['cgi-bin/chat.*']!)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Line {
  n: number;
  text: string;
}

async function post(t: CheckContext, message: string, port?: number) {
  const response = await t.http({ method: 'POST', path: chat(t), headers: form, body: new URLSearchParams({ msg: message }).toString() }, { port });
  t.expect(
    response.status >= 200 && response.status < 300,
    `POST msg=${message} answered ${response.status} ${response.reason}; append the message to the spool and answer "Status: 204 No Content"`,
  );
}

function lines(t: CheckContext, response: Response, what: string): Line[] {
  t.status(response, 200, `${what}: when there are messages after since, answer 200 with them`);
  t.header(response, 'Content-Type', /^text\/plain/, 'The messages are text: Content-Type: text/plain');
  return response.text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const match = /^(\d+) (.*)$/.exec(line);
      t.expect(match, `${what}: every line should be "number text", but one is ${JSON.stringify(line)}`);
      return { n: Number(match![1]), text: match![2]! };
    });
}

/** The number of the newest message, read with since=0&timeout=0 (answered at once). */
async function newest(t: CheckContext, port?: number): Promise<number> {
  const response = await t.http({ path: `${chat(t)}?since=0&timeout=0` }, { port });
  if (response.status === 204) return 0;
  return lines(t, response, 'GET ?since=0&timeout=0').at(-1)?.n ?? 0;
}

/** A GET sent now; resolves with the response, how long after sending it came, and when. */
function held(t: CheckContext, query: string, port?: number): Promise<{ response: Response; ms: number; at: number }> {
  const sent = performance.now();
  return t.http({ path: `${chat(t)}?${query}` }, { port, timeoutMs: 20_000 }).then((response) => {
    const at = performance.now();
    return { response, ms: at - sent, at };
  });
}

export default {
  files: [{ path: 'cgi-bin/chat.*', executable: true }],
  scriptTimeoutMs: 15_000,
  checks: [
    {
      task: 1,
      title: 'POST msg=… is kept; GET ?since=N&timeout=0 answers at once with every message after N, numbered',
      async run(t) {
        const before = await newest(t);
        const [first, second] = [word(t), word(t)];
        await post(t, first);
        await post(t, second);
        const listed = await t.http({ path: `${chat(t)}?since=${before}&timeout=0` });
        if (listed.status === 204)
          t.fail(
            `after two POSTs, GET ?since=${before}&timeout=0 answered 204, nothing new: keep each POSTed message — append it as one line to a spool file beside the script — and answer the lines after the ${before === 0 ? 'start' : `${before}th`}`,
          );
        const got = lines(t, listed, `GET ?since=${before}`);
        t.expect(
          got.length === 2 && got[0]!.text === first && got[1]!.text === second,
          `after two POSTs, GET ?since=${before} should answer exactly the two new messages, ${JSON.stringify(`${before + 1} ${first}`)} and ${JSON.stringify(`${before + 2} ${second}`)}, but answered ${JSON.stringify(got.map((l) => `${l.n} ${l.text}`))}`,
        );
        t.expect(
          got[0]!.n === before + 1 && got[1]!.n === before + 2,
          `the new messages are numbered ${got.map((l) => l.n).join(', ')}; they are messages ${before + 1} and ${before + 2} of the spool (number = line in the spool, counting from 1)`,
        );
        const nothing = await t.http({ path: `${chat(t)}?since=${before + 2}&timeout=0` });
        t.status(nothing, 204, `GET ?since=${before + 2}&timeout=0: nothing after message ${before + 2}, and no time to wait: answer "Status: 204 No Content"`);
      },
    },
    {
      task: 2,
      title: 'GET ?since=N&timeout=2 with no news waits about 2 s, then answers 204',
      async run(t) {
        const last = await newest(t);
        const { response, ms } = await held(t, `since=${last}&timeout=2`);
        t.status(response, 204, `after waiting, with still no message after ${last}, answer "Status: 204 No Content"`);
        t.expect(
          ms >= 1500,
          `GET ?since=${last}&timeout=2 answered after ${Math.round(ms)} ms; with nothing new it should wait for news up to 2 seconds before answering 204 (look again every 0.1 s until the time is up)`,
        );
      },
    },
    {
      task: 2,
      title: 'a held GET is answered with the message soon after a POST, long before its timeout',
      async run(t) {
        const last = await newest(t);
        const message = word(t);
        const waiting = held(t, `since=${last}&timeout=10`);
        await sleep(1000);
        const postedAt = performance.now();
        await post(t, message);
        const { response, ms, at } = await waiting;
        if (at < postedAt)
          t.fail(
            `GET ?since=${last}&timeout=10 answered ${response.status} after ${Math.round(ms)} ms, before anything was posted: with nothing new, hold the request — look at the spool again every 0.1 s — until a message arrives or 10 s pass`,
          );
        const got = lines(t, response, `the held GET ?since=${last}&timeout=10`);
        t.expect(
          got.some((l) => l.text === message),
          `the held GET answered ${JSON.stringify(response.text.slice(0, 120))}, without ${JSON.stringify(message)}, posted while it waited`,
        );
        const after = Math.round(at - postedAt);
        t.expect(
          after < 3000,
          `the held GET answered ${after} ms after the POST; news should reach a waiting client at once — look at the spool every 0.1 s or so, not every few seconds`,
        );
      },
    },
    {
      task: 3,
      title: 'ten held GETs are all answered by one POST',
      async run(t) {
        const last = await newest(t);
        const message = word(t);
        const waiters = Array.from({ length: 10 }, () => held(t, `since=${last}&timeout=10`));
        await sleep(1500);
        await post(t, message);
        const answered = await Promise.all(waiters);
        for (const [i, { response }] of answered.entries()) {
          const got = lines(t, response, `waiter ${i + 1} of 10`);
          t.expect(
            got.some((l) => l.text === message),
            `waiter ${i + 1} of 10 answered ${JSON.stringify(response.text.slice(0, 120))}, without ${JSON.stringify(message)}: every waiting client must hear of every new message (read the spool; do not take the message out of it)`,
          );
        }
      },
    },
    {
      task: 4,
      title: 'under --max-concurrency 10, ten held GETs take every slot: the eleventh gets 503 with Retry-After',
      async run(t) {
        const small = await t.serve(['--max-concurrency', '10']);
        t.record({ label: `a second server for this check: webhist serve --mode cgi --max-concurrency 10, on ${small.url}` });
        const last = await newest(t, small.port);
        const waiters = Array.from({ length: 10 }, () => held(t, `since=${last}&timeout=4`, small.port));
        await sleep(1500);
        const eleventh = await t.http({ path: `${chat(t)}?since=${last}&timeout=4` }, { port: small.port });
        t.status(
          eleventh,
          503,
          `ten waiting clients are ten waiting CGI processes, and with --max-concurrency 10 there is no slot for an eleventh. If it was answered, the ten were not waiting: each GET with nothing new must be held until its timeout`,
        );
        t.header(eleventh, 'Retry-After', /^\d+$/);
        for (const [i, { response, ms }] of (await Promise.all(waiters)).entries()) {
          t.status(response, 204, `waiter ${i + 1} of 10 (timeout=4, no news) should end with 204`);
          t.expect(ms >= 3000, `waiter ${i + 1} of 10 answered after ${Math.round(ms)} ms; with no news it should wait its 4 s`);
        }
      },
    },
  ],
} satisfies Suite;
