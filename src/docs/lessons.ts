/**
 * The guided lessons as the landing page lists them: every `lessons/NN-slug/lesson.json`
 * under the docroot (`{number, slug, title, era, modes, tasks, sources}`), in lesson order,
 * each linked to its README. Whatever lessons exist are listed, none included; a folder whose
 * lesson.json cannot be read is named in `problems` instead of vanishing from the list.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface LessonEntry {
  number: number;
  title: string;
  era: string;
  modes: string[];
  tasks: number;
  /** Where the rendered README is served, from the docroot's root. */
  href: string;
}

export interface LessonList {
  lessons: LessonEntry[];
  problems: string[];
}

export async function listLessons(docroot: string): Promise<LessonList> {
  const dir = join(docroot, 'lessons');
  const folders = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const lessons: LessonEntry[] = [];
  const problems: string[] = [];
  for (const folder of folders) {
    if (!folder.isDirectory() || folder.name.startsWith('.')) continue;
    try {
      lessons.push(entryOf(folder.name, JSON.parse(await readFile(join(dir, folder.name, 'lesson.json'), 'utf8'))));
    } catch (error) {
      problems.push(`lessons/${folder.name}/lesson.json: ${(error as Error).message}`);
    }
  }
  return { lessons: lessons.sort((a, b) => a.number - b.number), problems };
}

function entryOf(folder: string, meta: Record<string, unknown>): LessonEntry {
  const { number, title, era, modes, tasks } = meta;
  if (typeof number !== 'number' || typeof title !== 'string') throw new Error('needs a number and a title');
  return {
    number,
    title,
    era: typeof era === 'string' ? era : '',
    modes: Array.isArray(modes) ? modes.map(String) : [],
    tasks: Array.isArray(tasks) ? tasks.length : 0,
    href: `/lessons/${encodeURIComponent(folder)}/README.md`,
  };
}
