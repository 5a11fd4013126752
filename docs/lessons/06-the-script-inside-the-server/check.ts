/**
 * Lesson 6's checks: the learner's visits.js in every mode, each mode held to its own truth
 * about module-level state, and two overlapping requests that must not share a name.
 */
import type { CheckContext, Response, Suite } from '../../../src/learn/checks.ts';

const path = '/cgi-bin/visits.js';
const people = ['Ada', 'Grace', 'Radia', 'Hedy', 'Katherine', 'Barbara', 'Frances', 'Sophie'];

interface Visit {
  greeting: string;
  served: number;
  pid: number;
}

function read(t: CheckContext, response: Response, name: string): Visit {
  t.status(response, 200);
  t.header(response, 'Content-Type', /^text\/plain/);
  const [greeting = '', counted = ''] = response.text.split('\n');
  t.expect(greeting === `Hello, ${name}`, `the first line should be "Hello, ${name}" but is ${JSON.stringify(greeting)}`);
  const match = /^served=(\d+) pid=(\d+)$/.exec(counted);
  t.expect(match, `the second line should be "served=N pid=P" but is ${JSON.stringify(counted)}`);
  return { greeting, served: Number(match![1]), pid: Number(match![2]) };
}

async function visit(t: CheckContext, name: string): Promise<Visit> {
  return read(t, await t.http({ path: `${path}?name=${name}` }), name);
}

export default {
  files: [{ path: 'cgi-bin/visits.js' }],
  checks: [
    {
      task: 1,
      title: '?name=X answers 200 text/plain "Hello, X" and "served=N pid=P"',
      async run(t) {
        await visit(t, people[Math.floor(t.random() * people.length)]!);
      },
    },
    {
      task: 2,
      title: "eight requests in a row show this mode's truth about module-level state",
      async run(t) {
        const visits: Visit[] = [];
        for (let i = 0; i < 8; i++) visits.push(await visit(t, people[i]!));
        const shown = visits.map((v) => `${v.served}@${v.pid}`).join(' ');
        if (t.mode === 'cgi') {
          t.expect(
            visits.every((v) => v.served === 1),
            `served=N@pid: ${shown}. Under cgi every request is a new process, so N is always 1: count at module level, not in a file or the environment`,
          );
          t.expect(new Set(visits.map((v) => v.pid)).size === visits.length, `served=N@pid: ${shown}: a pid came back twice; print process.pid`);
          return;
        }
        const byPid = new Map<number, number[]>();
        for (const v of visits) byPid.set(v.pid, [...(byPid.get(v.pid) ?? []), v.served]);
        for (const [pid, counts] of byPid) {
          t.expect(
            counts.every((n, i) => i === 0 || n === counts[i - 1]! + 1),
            `served=N@pid: ${shown}. Process ${pid} served ${counts.join(', ')}: each request to the same process should add exactly 1 (keep the count at module level, outside the handler)`,
          );
        }
        if (t.mode === 'embedded') t.expect(byPid.size === 1, `served=N@pid: ${shown}: embedded, every request runs in the server's one process`);
        else
          t.expect(
            [...byPid.values()].some((c) => c.length > 1),
            `served=N@pid: ${shown}: with four workers and eight requests, some worker must have served twice`,
          );
      },
    },
    {
      task: 3,
      title: "two overlapping requests never see each other's name",
      async run(t) {
        const i = Math.floor(t.random() * (people.length - 1));
        const [first, second] = [people[i]!, people[i + 1]!];
        // The first waits 600 ms inside the handler; the second arrives while it waits.
        const slow = t.http({ path: `${path}?name=${first}&wait=600` });
        await new Promise((resolve) => setTimeout(resolve, 150));
        const fast = await t.http({ path: `${path}?name=${second}` });
        const slowResponse = await slow;
        read(t, fast, second);
        if (slowResponse.text.startsWith(`Hello, ${second}\n`)) {
          t.fail(
            `the request for ${first} (waiting 600 ms) was answered "Hello, ${second}": a name kept at module level was overwritten by ${second}'s request while the first awaited; keep it in a const inside the handler`,
          );
        }
        read(t, slowResponse, first);
      },
    },
  ],
} satisfies Suite;
