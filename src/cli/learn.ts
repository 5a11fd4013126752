/**
 * `webhist learn`: the guided history lessons (list, show, start, verify, hint, solution,
 * reset, watch). This file only wires the engine in src/learn/ to the command line.
 */
import { Command, Option } from 'commander';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { modeNames, type ModeName } from '../mode.ts';
import { findLesson, LessonError, loadCatalogue, type Lesson } from '../learn/catalogue.ts';
import { renderMarkdown } from '../learn/markdown.ts';
import { stopAll } from '../learn/processes.ts';
import { formatResult, resultJson } from '../learn/report.ts';
import { verifyLesson, type VerifyResult } from '../learn/verify.ts';
import { watchFolder } from '../learn/watch.ts';
import { defaultWorkspace, Workspace, WorkspaceError } from '../learn/workspace.ts';
import { parseChoice, parseInteger } from './options.ts';
import { paint, UsageError } from './ui.ts';

interface Common {
  dir: string;
}

const dirOption = () => new Option('--dir <dir>', 'the workspace: one folder per lesson, and .progress.json').default(defaultWorkspace);

/** Turns the engine's own errors (a lesson that does not exist, a missing file) into one line. */
function oneLine<A extends unknown[]>(action: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      if (error instanceof LessonError || error instanceof WorkspaceError) throw new UsageError(error.message);
      throw error;
    }
  };
}

const catalogue = () => {
  const lessons = loadCatalogue();
  if (!lessons.length) throw new UsageError('no lessons found in this installation of webhist');
  return lessons;
};

const isLast = (lesson: Lesson) => lesson.number === catalogue().at(-1)!.number;

/** The lesson asked for, or the current one (the last started), or lesson 1. */
async function chosen(wanted: string | undefined, workspace: Workspace): Promise<Lesson> {
  const lessons = catalogue();
  if (wanted) return findLesson(lessons, wanted);
  const current = (await workspace.readProgress()).current;
  return current ? findLesson(lessons, String(current)) : lessons[0]!;
}

const list = oneLine(async (options: Common) => {
  const workspace = new Workspace(resolve(options.dir));
  const progress = await workspace.readProgress();
  const lessons = catalogue();
  const passed = (l: Lesson) => Boolean(progress.lessons[l.number]?.passed);
  // The lesson last started, until it passes; then the next one not passed (never started for you).
  const current = (lessons.find((l) => !passed(l) && l.number >= (progress.current ?? 0)) ?? lessons.find((l) => !passed(l)))?.number;
  for (const lesson of lessons) {
    const done = passed(lesson);
    const mark = done ? paint.green('✓') : lesson.number === current ? paint.yellow('▶') : paint.dim('·');
    process.stdout.write(`${mark} ${String(lesson.number).padStart(2)}  ${paint.dim(lesson.era.padEnd(11))} ${lesson.title}\n`);
  }
  const next = current ?? lessons[0]!.number;
  process.stdout.write(
    `\n${paint.dim(`Read one: webhist learn show ${next}   Begin: webhist learn start ${next}   Progress: ${relative(process.cwd(), workspace.progressFile)}`)}\n`,
  );
});

const show = oneLine(async (number: string | undefined, options: Common) => {
  const lesson = await chosen(number, new Workspace(resolve(options.dir)));
  const text = await readFile(join(lesson.dir, 'README.md'), 'utf8');
  process.stdout.write(renderMarkdown(text, paint, Math.min(process.stdout.columns ?? 100, 100)));
});

const start = oneLine(async (number: string, options: Common) => {
  const workspace = new Workspace(resolve(options.dir));
  const lesson = findLesson(catalogue(), number);
  const copied = await workspace.start(lesson);
  const where = relative(process.cwd(), workspace.lessonDir(lesson)) || '.';
  process.stdout.write(`${paint.bold(`Lesson ${lesson.number}: ${lesson.title}`)} in ${paint.cyan(`${where}/`)}\n`);
  if (copied.length) for (const file of copied) process.stdout.write(`  + ${file}\n`);
  else process.stdout.write(`  ${paint.dim('(every starter file is already there; nothing was overwritten)')}\n`);
  process.stdout.write(
    `\nRead it: ${paint.cyan(`webhist learn show ${lesson.number}`)}   Check your work: ${paint.cyan(`webhist learn verify ${lesson.number}`)}\n`,
  );
});

interface VerifyOptions extends Common {
  json: boolean;
  verbose: boolean;
  seed?: number;
  mode?: ModeName;
}

async function verifyOnce(lesson: Lesson, workspace: Workspace, options: VerifyOptions): Promise<VerifyResult> {
  const dir = await workspace.requireLessonDir(lesson);
  const result = await verifyLesson(lesson, dir, { seed: options.seed, modes: options.mode ? [options.mode] : undefined });
  if (result.status !== 'error') {
    const failing = result.modes.flatMap((m) => m.checks).find((c) => c.status === 'fail');
    await workspace.update(lesson, (entry) => {
      entry.seed = result.seed;
      if (failing) entry.failingTask = failing.task;
      else {
        entry.passed = new Date().toISOString();
        delete entry.failingTask;
      }
    });
  }
  return result;
}

/** Ctrl-C during a check: the servers and scripts it started go too. */
const stopOnInterrupt = (before = () => {}) => process.once('SIGINT', () => (before(), void stopAll().then(() => process.exit(130))));

const verify = oneLine(async (number: string | undefined, options: VerifyOptions) => {
  stopOnInterrupt();
  const workspace = new Workspace(resolve(options.dir));
  const lesson = await chosen(number, workspace);
  const result = await verifyOnce(lesson, workspace, options);
  if (options.json) process.stdout.write(`${JSON.stringify(resultJson(result), null, 2)}\n`);
  else if (result.status === 'error') throw new UsageError(result.error!);
  else process.stdout.write(formatResult(result, paint, { verbose: options.verbose, last: isLast(lesson) }));
  process.exitCode = result.status === 'pass' ? 0 : 1;
});

const hint = oneLine(async (number: string | undefined, options: Common) => {
  const workspace = new Workspace(resolve(options.dir));
  const lesson = await chosen(number, workspace);
  const entry = (await workspace.readProgress()).lessons[lesson.number] ?? {};
  const taskNumber = entry.failingTask ?? 1;
  const task = lesson.tasks[taskNumber - 1] ?? lesson.tasks[0]!;
  const shown = entry.hintsShown?.[taskNumber] ?? 0;
  const level = Math.min(shown, task.hints.length - 1);
  process.stdout.write(`${paint.bold(`Lesson ${lesson.number}, task ${taskNumber}: ${task.title}`)}\n`);
  process.stdout.write(`${paint.yellow(`hint ${level + 1} of ${task.hints.length}:`)} ${task.hints[level]}\n`);
  if (level + 1 < task.hints.length) process.stdout.write(paint.dim(`(run it again for a closer hint)\n`));
  else process.stdout.write(paint.dim(`(that was the last hint; \`webhist learn solution ${lesson.number} --force\` shows the reference answer)\n`));
  await workspace.update(lesson, (e) => {
    e.hintsShown = { ...e.hintsShown, [taskNumber]: level + 1 };
  });
});

const solution = oneLine(async (number: string, options: Common & { force: boolean }) => {
  const workspace = new Workspace(resolve(options.dir));
  const lesson = findLesson(catalogue(), number);
  const passed = (await workspace.readProgress()).lessons[lesson.number]?.passed;
  if (!passed && !options.force) {
    throw new UsageError(
      `lesson ${lesson.number} has not passed yet: try \`webhist learn hint ${lesson.number}\`, or see the answer anyway with \`webhist learn solution ${lesson.number} --force\``,
    );
  }
  const root = join(lesson.dir, 'solution');
  let why = '';
  for (const file of await filesUnder(root)) {
    const text = await readFile(join(root, file), 'utf8');
    if (file === 'WHY.md') why = text;
    else process.stdout.write(`${paint.bold(`── ${file} ──`)}\n${text}${text.endsWith('\n') ? '' : '\n'}\n`);
  }
  if (why) process.stdout.write(renderMarkdown(why, paint, Math.min(process.stdout.columns ?? 100, 100)));
});

async function filesUnder(root: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(root, path)));
    else files.push(path);
  }
  return files.sort();
}

const reset = oneLine(async (number: string, options: Common) => {
  const workspace = new Workspace(resolve(options.dir));
  const lesson = findLesson(catalogue(), number);
  const kept = await workspace.reset(lesson);
  process.stdout.write(`Lesson ${lesson.number} is back to its starter files in ${paint.cyan(relative(process.cwd(), workspace.lessonDir(lesson)))}/\n`);
  if (kept) process.stdout.write(`Your attempt is kept in ${paint.cyan(relative(process.cwd(), kept))}/\n`);
});

const watchLesson = oneLine(async (number: string | undefined, options: VerifyOptions) => {
  const workspace = new Workspace(resolve(options.dir));
  const lesson = await chosen(number, workspace);
  const dir = await workspace.requireLessonDir(lesson);
  const watching = watchFolder(dir, async () => {
    process.stdout.write(process.stdout.isTTY ? '\x1bc' : '\n');
    try {
      const result = await verifyOnce(lesson, workspace, options);
      process.stdout.write(
        result.status === 'error' ? `${paint.red('✗')} ${result.error}\n` : formatResult(result, paint, { verbose: options.verbose, last: isLast(lesson) }),
      );
    } catch (error) {
      process.stdout.write(`${paint.red('✗')} ${(error as Error).message}\n`);
    }
    process.stdout.write(paint.dim(`\nwatching ${relative(process.cwd(), dir)}/ — save a file to check again, Enter to check now, Ctrl-C to stop\n`));
  });
  process.stdin.on('data', () => watching.runNow());
  stopOnInterrupt(() => watching.close());
});

const verifyOptions = (command: Command) =>
  command
    .addOption(dirOption())
    .option('--seed <n>', 'the seed for inputs that vary (printed by every run)', parseInteger(0))
    .addOption(new Option('--mode <mode>', "only this one of the lesson's modes").argParser(parseChoice(modeNames)))
    .option('--verbose', 'show every request and response, not only the first failure', false);

export const learnCommand = new Command('learn')
  .description('the guided history lessons: read, start, check your work over real HTTP')
  .addCommand(new Command('list').description('every lesson, with ✓ done, ▶ current, · not yet').addOption(dirOption()).action(list), { isDefault: true })
  .addCommand(new Command('show').description("a lesson's text, for the terminal").argument('[lesson]', 'its number').addOption(dirOption()).action(show))
  .addCommand(
    new Command('start')
      .description("copy a lesson's starter files into the workspace (never overwrites)")
      .argument('<lesson>', 'its number')
      .addOption(dirOption())
      .action(start),
  )
  .addCommand(
    verifyOptions(
      new Command('verify')
        .description('check your files over real HTTP; exit 0 pass, 1 fail')
        .argument('[lesson]', 'its number (default: the current lesson)'),
    )
      .option('--json', 'one JSON object (status pass/fail/error, an entry per check)', false)
      .action(verify),
  )
  .addCommand(
    new Command('hint').description('the next hint for the first failing task').argument('[lesson]', 'its number').addOption(dirOption()).action(hint),
  )
  .addCommand(
    new Command('solution')
      .description('the reference solution and why it works, once you have passed')
      .argument('<lesson>', 'its number')
      .addOption(dirOption())
      .option('--force', 'show it before passing', false)
      .action(solution),
  )
  .addCommand(
    new Command('reset')
      .description('back to the starter files; your attempt is kept beside them')
      .argument('<lesson>', 'its number')
      .addOption(dirOption())
      .action(reset),
  )
  .addCommand(
    verifyOptions(new Command('watch').description('verify again on every save (Enter checks by hand)').argument('[lesson]', 'its number')).action(watchLesson),
  );
