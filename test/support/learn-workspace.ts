/**
 * Lesson workspaces for tests: a temporary folder holding a lesson's starter or solution, with
 * any learner's files laid over it, verified in-process (the servers are real processes).
 */
import { chmod, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { findLesson, loadCatalogue, type Lesson } from '../../src/learn/catalogue.ts';
import { verifyLesson, type VerifyOptions, type VerifyResult } from '../../src/learn/verify.ts';

export const lessons = loadCatalogue();
export const lesson = (n: number): Lesson => findLesson(lessons, String(n));

/** A file a learner wrote: its text, executable unless said otherwise. */
export type Files = Record<string, string | { text: string; executable: boolean }>;

export async function makeWorkspace(lesson: Lesson, from: 'starter' | 'solution' | 'empty', files: Files = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'webhist-learn-test-'));
  after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, lesson.name);
  if (from === 'empty') await mkdir(dir, { recursive: true });
  else await cp(join(lesson.dir, from), dir, { recursive: true, filter: (src) => !src.endsWith('WHY.md') });
  for (const [path, file] of Object.entries(files)) {
    const { text, executable } = typeof file === 'string' ? { text: file, executable: true } : file;
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
    await chmod(join(dir, path), executable ? 0o755 : 0o644);
  }
  return dir;
}

export async function verifyWith(n: number, from: 'starter' | 'solution' | 'empty', files: Files = {}, options: VerifyOptions = {}): Promise<VerifyResult> {
  return verifyLesson(lesson(n), await makeWorkspace(lesson(n), from, files), { seed: 1, ...options });
}

/** Every failing check's reason, one per line, to match against. */
export function reasons(result: VerifyResult): string {
  return result.modes.flatMap((m) => m.checks.filter((c) => c.status === 'fail').map((c) => `${m.mode}: ${c.title}: ${c.reason}`)).join('\n');
}
