/**
 * Loads a lesson's check.ts by path. The checks live with their lesson (docs/lessons/NN-slug/),
 * so nothing in src/ imports docs/ statically. Node 24 strips TypeScript types itself; it
 * refuses to do so under node_modules (an installed webhist), so there the types are stripped
 * with node:module's stripTypeScriptTypes and the module imported from its text. A check file
 * therefore has only `import type` imports of the kit: everything it uses arrives as `t`.
 */
import { readFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Lesson } from './catalogue.ts';
import type { Suite } from './checks.ts';
import { WorkspaceError } from './workspace.ts';

export async function loadSuite(lesson: Lesson): Promise<Suite> {
  const file = join(lesson.dir, 'check.ts');
  let module: { default?: Suite };
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND') throw new WorkspaceError(`lesson ${lesson.number} has no checks (${file} is missing)`);
    if (code !== 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING') throw error;
    const source = stripTypeScriptTypes(await readFile(file, 'utf8'));
    module = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
  }
  if (!module.default?.checks?.length) throw new WorkspaceError(`${file} exports no checks`);
  return module.default;
}
