/**
 * The lessons' development check (as `rustlings dev check`): every lesson is complete, every
 * starter fails verify and every solution passes it, in every mode the lesson names; the
 * checker's own words for one failing starter are compared with a stored copy (UPDATE=1
 * rewrites it). And the engine's behaviour on bad input, through the built bin as a learner
 * meets it: one line, a non-zero exit, never a stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { describeProblems, type Lesson } from '../src/learn/catalogue.ts';
import { seededRandom } from '../src/learn/checks.ts';
import { loadSuite } from '../src/learn/load-suite.ts';
import { renderMarkdown } from '../src/learn/markdown.ts';
import { webhistBin } from '../src/learn/processes.ts';
import { verifyLesson } from '../src/learn/verify.ts';
import { watchFolder } from '../src/learn/watch.ts';
import { packageRoot } from '../src/package-root.ts';
import { lesson, lessons, reasons, verifyWith } from './support/learn-workspace.ts';

const plain = { bold: String, dim: String, red: String, green: String, yellow: String, cyan: String, magenta: String } as never;

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'webhist-learn-cli-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function webhist(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [webhistBin, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
  });
}

function oneLineError(result: ReturnType<typeof webhist>, pattern: RegExp) {
  assert.equal(result.status, 1, result.stdout + result.stderr);
  assert.match(result.stderr, pattern);
  assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

describe('every lesson', () => {
  it('has lessons, numbered 1, 2, 3… without gaps', () => {
    assert.ok(lessons.length >= 2);
    assert.deepEqual(
      lessons.map((l) => l.number),
      lessons.map((_, i) => i + 1),
    );
  });

  for (const l of lessons) {
    it(`${l.name}: title, era, modes, hints for every task, sources; a README with its story's parts`, async () => {
      assert.deepEqual(describeProblems(l, l.name), []);
      const readme = await readFile(join(l.dir, 'README.md'), 'utf8');
      assert.equal(readme.split('\n')[0], `# ${l.number}. ${l.title}`);
      for (const section of ['## The story', '## Try it', '## Tasks', '## Tests', '## Break it', '## Read next'])
        assert.ok(readme.includes(`\n${section}\n`), `${l.name}: no "${section}"`);
      assert.match(readme, /\b1[89]\d\d|20[0-2]\d\b/, 'the story has dates');
      for (const source of l.sources) assert.ok(readme.includes(source.url), `${l.name}: README does not link ${source.url}`);
      assert.ok(existsSync(join(l.dir, 'solution', 'WHY.md')), 'the solution says why');
      const suite = await loadSuite(l);
      const tasks = new Set(suite.checks.map((c) => c.task));
      for (let t = 1; t <= l.tasks.length; t++) assert.ok(tasks.has(t), `${l.name}: no check for task ${t}`);
    });
  }

  it('every starter fails verify and every solution passes it, in every mode the lesson names', async () => {
    // Three at a time: each verify runs its own servers on port 0, but some checks watch time
    // (lesson 4's parts a second apart, lesson 10's held requests), and twenty verifies at once
    // on two shared cores starve them.
    const jobs = lessons.flatMap((l) => (['starter', 'solution'] as const).map((from) => ({ l, from })));
    const runs: { l: (typeof lessons)[number]; from: 'starter' | 'solution'; result: Awaited<ReturnType<typeof verifyWith>> }[] = [];
    const worker = async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) runs.push({ ...job, result: await verifyWith(job.l.number, job.from) });
    };
    await Promise.all([worker(), worker(), worker()]);
    for (const { l, from, result } of runs) {
      assert.deepEqual(
        result.modes.map((m) => m.mode),
        l.modes,
        `${l.name} ${from}: every mode ran`,
      );
      if (from === 'solution') assert.equal(result.status, 'pass', `${l.name}'s solution fails:\n${reasons(result)}`);
      else assert.equal(result.status, 'fail', `${l.name}'s starter passes (or errs: ${result.error})`);
    }
  });
});

describe('the checker, through the built bin', () => {
  it("prints lesson 2's failing starter in the stored words (seeded, colour off; UPDATE=1 rewrites the copy)", async () => {
    const dir = await tempDir();
    assert.equal(webhist(dir, 'learn', 'start', '2').status, 0);
    const result = webhist(dir, 'learn', 'verify', '2', '--seed', '42');
    assert.equal(result.status, 1);
    const printed = result.stdout.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:[PORT]');
    const stored = join(packageRoot, 'test/learn-fixtures/02-starter.txt');
    if (process.env.UPDATE) writeFileSync(stored, printed);
    assert.equal(printed, readFileSync(stored, 'utf8'));
  });

  it('walks a learner through list, start (never overwriting), hint levels, solution after a pass, reset keeping the attempt', async () => {
    const dir = await tempDir();
    assert.match(webhist(dir, 'learn').stdout, /▶ +1 .*A request is just text/);
    assert.match(webhist(dir, 'learn', 'start', '2').stdout, /\+ cgi-bin\/greet\.sh/);
    const mine = join(dir, 'webhist-lessons', lesson(2).name, 'cgi-bin', 'greet.sh');
    await writeFile(mine, '#!/bin/sh\necho mine\n');
    assert.match(webhist(dir, 'learn', 'start', '2').stdout, /nothing was overwritten/);
    assert.equal(await readFile(mine, 'utf8'), '#!/bin/sh\necho mine\n');

    assert.equal(webhist(dir, 'learn', 'verify').status, 1, 'verify with no number checks the current lesson');
    const hints = [1, 2, 3, 4].map(() => webhist(dir, 'learn', 'hint').stdout);
    assert.match(hints[0]!, /task 1: .*\n.*hint 1 of 3:/);
    assert.match(hints[1]!, /hint 2 of 3:/);
    assert.match(hints[3]!, /hint 3 of 3:.*\n.*last hint/);
    const progress = JSON.parse(await readFile(join(dir, 'webhist-lessons', '.progress.json'), 'utf8'));
    assert.equal(progress.current, 2);
    assert.equal(progress.lessons['2'].failingTask, 1);

    oneLineError(webhist(dir, 'learn', 'solution', '2'), /has not passed yet.*--force/);
    assert.match(webhist(dir, 'learn', 'solution', '2', '--force').stdout, /── cgi-bin\/greet\.sh ──[\s\S]*Why this works/);

    await cp(join(lesson(2).dir, 'solution', 'cgi-bin', 'greet.sh'), mine);
    const passed = webhist(dir, 'learn', 'verify', '2');
    assert.equal(passed.status, 0, passed.stdout);
    assert.match(webhist(dir, 'learn').stdout, /✓ +2 /);
    assert.equal(webhist(dir, 'learn', 'solution', '2').status, 0);

    assert.match(webhist(dir, 'learn', 'reset', '2').stdout, /attempt is kept in .*\.attempt-1/);
    assert.equal(
      await readFile(join(dir, 'webhist-lessons', `${lesson(2).name}.attempt-1`, 'cgi-bin', 'greet.sh'), 'utf8'),
      await readFile(join(lesson(2).dir, 'solution', 'cgi-bin', 'greet.sh'), 'utf8'),
    );
    assert.equal(await readFile(mine, 'utf8'), await readFile(join(lesson(2).dir, 'starter', 'cgi-bin', 'greet.sh'), 'utf8'));
  });

  it('--json gives the status and one entry per check, with the bytes', async () => {
    const dir = await tempDir();
    webhist(dir, 'learn', 'start', '1');
    const result = webhist(dir, 'learn', 'verify', '1', '--json');
    const json = JSON.parse(result.stdout);
    assert.equal(json.status, 'fail');
    assert.equal(json.modes[0].checks.length, 6);
    assert.match(json.modes[0].checks[0].exchanges[0].sent, /^GET \/ HTTP\/1\.1\r\n/);
  });

  it('bad input: one clear line and exit 1 — unknown lesson, no workspace, a missing or non-executable file, a broken progress file', async () => {
    const dir = await tempDir();
    oneLineError(webhist(dir, 'learn', 'verify', '99'), /no lesson "99" \(there are lessons 1–\d+/);
    oneLineError(webhist(dir, 'learn', 'show', 'nope'), /no lesson "nope"/);
    oneLineError(webhist(dir, 'learn', 'verify', '2'), /not started yet; run `webhist learn start 2`/);
    webhist(dir, 'learn', 'start', '2');
    const script = join(dir, 'webhist-lessons', lesson(2).name, 'cgi-bin', 'greet.sh');
    await chmod(script, 0o644);
    oneLineError(webhist(dir, 'learn', 'verify', '2'), /cgi-bin\/greet\.sh is not executable: .*run `chmod \+x .*greet\.sh`/);
    await rm(script);
    oneLineError(webhist(dir, 'learn', 'verify', '2'), /cgi-bin\/greet\.sh: no such file/);
    const json = JSON.parse(webhist(dir, 'learn', 'verify', '2', '--json').stdout);
    assert.equal(json.status, 'error');
    await writeFile(join(dir, 'webhist-lessons', '.progress.json'), '{ nope');
    oneLineError(webhist(dir, 'learn'), /\.progress\.json is not valid JSON; fix it or delete it/);
  });

  it('show renders the README for the terminal: headings and code without markdown syntax', () => {
    const shown = webhist(packageRoot, 'learn', 'show', '2').stdout;
    assert.match(shown, /^2\. A backend is just a program\n/);
    assert.doesNotMatch(shown, /^#+ /m);
    assert.doesNotMatch(shown, /```/);
    assert.match(shown, /npx webhist run cgi-bin\/printenv\.js/);
  });
});

describe('the engine', () => {
  it('a script that hangs is stopped by the time limit, and the check says so', async () => {
    const result = await verifyWith(2, 'empty', { 'cgi-bin/greet.sh': '#!/bin/sh\nsleep 30\n' }, { scriptTimeoutMs: 1000 });
    assert.equal(result.status, 'fail');
    assert.match(reasons(result), /GET \?name=Ada%20Lovelace .*expected status 200, got 504 .*did not finish within 1s/);
  });

  it("gives checks a peer's port, a second server with other options, and another lesson's files", async () => {
    const root = await tempDir();
    const dir = join(root, '01-probe');
    await mkdir(join(root, '02-other', 'solution'), { recursive: true });
    await writeFile(join(root, '02-other', 'solution', 'note.txt'), 'from lesson 2\n');
    await mkdir(join(dir, 'cgi-bin'), { recursive: true });
    await writeFile(join(dir, 'cgi-bin', 'hi.sh'), "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nhi\\n'\n", { mode: 0o755 });
    // A peer that prints its port, as lesson 7's wsgiref server does.
    const peer =
      "require('node:http').createServer((q, s) => s.end('peer ' + q.url)).listen(0, '127.0.0.1', function () { console.log('port ' + this.address().port) })";
    await writeFile(
      join(dir, 'check.ts'),
      `import { readFileSync } from 'node:fs';
export default {
  files: [{ path: 'cgi-bin/hi.sh', executable: true }],
  checks: [{ task: 1, title: 'probe', async run(t) {
    t.expect(readFileSync(t.lessonFile(2, 'solution/note.txt'), 'utf8') === 'from lesson 2\\n', 'lessonFile');
    const started = t.start(process.execPath, ['-e', ${JSON.stringify(peer)}]);
    const port = Number((await started.waitFor(/port (\\d+)/))[1]);
    t.body(await t.http({ path: '/x' }, { port }), 'peer /x');
    const second = await t.serve(['--max-concurrency', '1']);
    t.expect(second.port !== t.port, 'a server of its own');
    t.body(await t.http({ path: '/cgi-bin/hi.sh' }, { port: second.port }), 'hi\\n');
  } }],
};
`,
    );
    const probe: Lesson = {
      number: 1,
      slug: 'probe',
      title: 'Probe',
      era: '2026',
      modes: ['cgi'],
      tasks: [{ title: 'probe', hints: ['h'] }],
      sources: [],
      dir,
      name: '01-probe',
    };
    const result = await verifyLesson(probe, dir, { seed: 1 });
    assert.equal(result.status, 'pass', reasons(result));
    assert.match(result.modes[0]!.checks[0]!.exchanges.map((e) => e.curl).join('\n'), /curl -i http:\/\/127\.0\.0\.1:\d+\/x\n/);
  });

  it('loads checks from under node_modules, where Node will not strip types itself', async () => {
    const root = await tempDir();
    const dir = join(root, 'node_modules', 'webhist', 'docs', 'lessons', lesson(2).name);
    await mkdir(dir, { recursive: true });
    await cp(join(lesson(2).dir, 'check.ts'), join(dir, 'check.ts'));
    const suite = await loadSuite({ ...lesson(2), dir });
    assert.equal(suite.checks.length, (await loadSuite(lesson(2))).checks.length);
  });

  it('the seeded source repeats', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    assert.deepEqual([a(), a(), a()], [b(), b(), b()]);
  });

  it('watch runs again when a file changes (by events or by the poll)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.sh'), 'one');
    let runs = 0;
    let seen: () => void = () => {};
    const watching = watchFolder(
      dir,
      async () => {
        runs++;
        seen();
      },
      100,
    );
    after(() => watching.close());
    await new Promise<void>((r) => (seen = r));
    await watching.settled();
    const second = new Promise<void>((r) => (seen = r));
    await writeFile(join(dir, 'a.sh'), 'two, longer');
    await second;
    assert.equal(runs, 2);
  });

  it('renders markdown tokens: a list, a table, a link with its URL', () => {
    const text = renderMarkdown('# T\n\n- one `code`\n- [two](https://example.org/)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n', plain);
    assert.equal(text, 'T\n\n• one code\n• two <https://example.org/>\n\na  b\n1  2\n');
  });
});
