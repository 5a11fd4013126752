/**
 * The ordered list of lessons: every docs/lessons/NN-slug/ folder with its lesson.json (title,
 * era, modes, tasks with hints, sources). The folder layout is shared with the docs site,
 * which renders each README.md to HTML.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { modeNames, type ModeName } from '../mode.ts';
import { packageRoot } from '../package-root.ts';

interface Task {
  title: string;
  /** From a pointer to a resource, to closer, to nearly the answer. */
  hints: string[];
}

export interface Lesson {
  number: number;
  slug: string;
  title: string;
  era: string;
  modes: ModeName[];
  tasks: Task[];
  sources: { title: string; url: string }[];
  /** The lesson's folder: README.md, lesson.json, starter/, solution/, check.ts. */
  dir: string;
  /** NN-slug: also the learner's folder name in the workspace. */
  name: string;
}

const lessonsRoot = join(packageRoot, 'docs', 'lessons');

/** A lesson number or folder that names no lesson, or a lesson.json that is not right. */
export class LessonError extends Error {
  override name = 'LessonError';
}

export function loadCatalogue(root = lessonsRoot): Lesson[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^\d\d-/.test(entry.name))
    .map((entry) => readLesson(join(root, entry.name), entry.name))
    .sort((a, b) => a.number - b.number);
}

function readLesson(dir: string, name: string): Lesson {
  const file = join(dir, 'lesson.json');
  let data: Omit<Lesson, 'dir' | 'name'>;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new LessonError(`${name}/lesson.json: ${(error as Error).message}`);
  }
  const problems = describeProblems(data, name);
  if (problems.length) throw new LessonError(`${name}/lesson.json: ${problems.join('; ')}`);
  return { ...data, dir, name };
}

/** What a lesson.json lacks; the development check asserts this is empty for every lesson. */
export function describeProblems(data: Partial<Lesson>, name: string): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(data.number) || name.slice(0, 2) !== String(data.number).padStart(2, '0')) problems.push('"number" must match the folder name');
  if (!data.slug || name.slice(3) !== data.slug) problems.push('"slug" must match the folder name');
  if (!data.title) problems.push('no "title"');
  if (!data.era) problems.push('no "era"');
  if (!data.modes?.length || data.modes.some((m) => !modeNames.includes(m))) problems.push(`"modes" must list some of ${modeNames.join(', ')}`);
  if (!data.tasks?.length) problems.push('no "tasks"');
  for (const [i, task] of (data.tasks ?? []).entries()) {
    if (!task.title) problems.push(`task ${i + 1} has no title`);
    if (!task.hints?.length) problems.push(`task ${i + 1} has no hints`);
  }
  if (!data.sources?.length || data.sources.some((s) => !s.title || !/^https?:\/\//.test(s.url))) problems.push('"sources" must list a title and URL each');
  return problems;
}

/** The lesson named by a number ("2", "02") or its folder name ("02-a-backend-is-a-program"). */
export function findLesson(catalogue: Lesson[], wanted: string): Lesson {
  const lesson = /^\d+$/.test(wanted) ? catalogue.find((l) => l.number === Number(wanted)) : catalogue.find((l) => l.name === wanted || l.slug === wanted);
  if (!lesson) {
    const range = catalogue.length ? ` (there are lessons ${catalogue[0]!.number}–${catalogue.at(-1)!.number}; \`webhist learn\` lists them)` : '';
    throw new LessonError(`no lesson "${wanted}"${range}`);
  }
  return lesson;
}
