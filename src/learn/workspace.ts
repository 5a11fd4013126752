/**
 * The learner's workspace (./webhist-lessons by default): one folder per started lesson, and
 * .progress.json, a small file the learner can read, edit or delete. Nothing here overwrites a
 * learner's file: `start` skips what exists, `reset` moves the attempt aside first.
 */
import { constants, existsSync } from 'node:fs';
import { access, cp, mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Lesson } from './catalogue.ts';

export const defaultWorkspace = 'webhist-lessons';

export interface LessonProgress {
  started?: string;
  /** When verify last passed. Passing never starts the next lesson by itself. */
  passed?: string;
  /** The task (1-based) of the first failing check at the last verify. */
  failingTask?: number;
  /** How many hints have been shown, per task. */
  hintsShown?: Record<string, number>;
  seed?: number;
}

export interface Progress {
  /** The lesson the learner chose last with `start`. */
  current?: number;
  lessons: Record<string, LessonProgress>;
}

/** A workspace or learner's file that is missing, or a file that cannot be run as it is. */
export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
}

export class Workspace {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  lessonDir(lesson: Lesson): string {
    return join(this.root, lesson.name);
  }

  get progressFile(): string {
    return join(this.root, '.progress.json');
  }

  async readProgress(): Promise<Progress> {
    const text = await readFile(this.progressFile, 'utf8').catch(() => undefined);
    if (text === undefined) return { lessons: {} };
    try {
      const progress = JSON.parse(text) as Progress;
      return { ...progress, lessons: progress.lessons ?? {} };
    } catch {
      throw new WorkspaceError(`${this.progressFile} is not valid JSON; fix it or delete it (only your progress marks are in it)`);
    }
  }

  /** Reads, changes and writes back the progress of one lesson. */
  async update(lesson: Lesson, change: (entry: LessonProgress, progress: Progress) => void): Promise<Progress> {
    const progress = await this.readProgress();
    change((progress.lessons[lesson.number] ??= {}), progress);
    await mkdir(this.root, { recursive: true });
    await writeFile(this.progressFile, `${JSON.stringify(progress, null, 2)}\n`);
    return progress;
  }

  /** Copies the starter files in; files already there are kept. Returns the ones copied. */
  async start(lesson: Lesson): Promise<string[]> {
    const target = this.lessonDir(lesson);
    const copied: string[] = [];
    await copyMissing(join(lesson.dir, 'starter'), target, target, copied);
    await this.update(lesson, (entry, progress) => {
      entry.started ??= new Date().toISOString();
      progress.current = lesson.number;
    });
    return copied;
  }

  /** Moves the attempt to NN-slug.attempt-N beside it, then copies the starter again. */
  async reset(lesson: Lesson): Promise<string | undefined> {
    const target = this.lessonDir(lesson);
    let kept: string | undefined;
    if (existsSync(target)) {
      let n = 1;
      while (existsSync(`${target}.attempt-${n}`)) n++;
      kept = `${target}.attempt-${n}`;
      await rename(target, kept);
    }
    await this.start(lesson);
    await this.update(lesson, (entry) => {
      delete entry.passed;
      delete entry.failingTask;
    });
    return kept;
  }

  /** The learner's folder for a lesson, or a one-line reason it cannot be used. */
  async requireLessonDir(lesson: Lesson): Promise<string> {
    const dir = this.lessonDir(lesson);
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
      throw new WorkspaceError(`${relative(process.cwd(), dir) || dir}: not started yet; run \`webhist learn start ${lesson.number}\` first`);
    }
    return dir;
  }
}

async function copyMissing(from: string, to: string, root: string, copied: string[]): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      await copyMissing(source, target, root, copied);
    } else if (!existsSync(target)) {
      // cp keeps the mode bits: an executable starter stays executable.
      await cp(source, target, { preserveTimestamps: false });
      copied.push(relative(root, target));
    }
  }
}

/** Says what is wrong with a file the lesson needs, in words that say what to do. */
export async function requireFile(dir: string, path: string, executable: boolean): Promise<void> {
  const file = join(dir, path);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new WorkspaceError(`${path}: no such file in ${dir}`);
  if (
    executable &&
    !(await access(file, constants.X_OK).then(
      () => true,
      () => false,
    ))
  ) {
    throw new WorkspaceError(`${path} is not executable: a web server runs it as a program; run \`chmod +x ${join(dir, path)}\``);
  }
}
