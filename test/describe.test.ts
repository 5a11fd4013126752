import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { describeScript, ScriptError } from '../src/script/describe.ts';

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'webhist-describe-'))));
after(() => rm(dir, { recursive: true, force: true }));

async function describeSource(name: string, source: string, mode = 0o644) {
  const file = join(dir, name);
  await writeFile(file, source);
  await chmod(file, mode);
  return describeScript(file, `/cgi-bin/${name}`);
}

// [file name, source, mode, kind, the command before the script's own path]
const cases: Array<[string, string, number, 'handler' | 'program', string[]]> = [
  ['a.js', 'export default async function ({ stdout }) {}', 0o644, 'handler', [process.execPath]],
  ['b.mjs', 'const h = () => {}; export { h as default }', 0o644, 'handler', [process.execPath]],
  ['c.ts', 'import type { X } from "y";\nexport default ({ stdout }: { stdout: X }) => {}', 0o644, 'handler', [process.execPath]],
  ['d.js', 'process.stdout.write("Content-Type: text/plain\\r\\n\\r\\nhi")', 0o644, 'program', [process.execPath]],
  ['e.js', 'module.exports = function () {}', 0o644, 'program', [process.execPath]],
  ['f.ts', 'export type Handler = () => void;\nexport const x = 1', 0o644, 'program', [process.execPath]],
  ['g.sh', 'echo', 0o644, 'program', ['sh']],
  ['h.pl', 'print', 0o644, 'program', ['perl']],
  ['i.py', 'print()', 0o644, 'program', ['python3']],
  ['j', '#!/bin/sh\necho', 0o755, 'program', []],
  // Not JavaScript, but executable: its #! line runs it, whatever the lexer makes of it.
  ['k.js', '#!/bin/sh\n{{{ not javascript', 0o755, 'program', []],
];

for (const [name, source, mode, kind, before] of cases) {
  test(`${name} is a ${kind}, decided without running it`, async () => {
    const script = await describeSource(name, `${source}\nthrow new Error('executed!')\n`, mode);
    assert.equal(script.kind, kind);
    if (kind === 'program') assert.deepEqual(script.command, [...before, script.file]);
    else assert.deepEqual([script.command[0], script.command.at(-1)], [...before, script.file]); // via the shim
  });
}

test('a .js file Node would run but cannot parse is a syntax error, with file:line:column', async () => {
  await assert.rejects(
    describeSource('broken.js', 'export default async function ({ stdout }) {\n  stdout.write("x"\n}\n'),
    (e: Error) => e instanceof ScriptError && /^syntax error at \/.*broken\.js:2:16: missing \) after argument list$/.test(e.message),
  );
});

test('php-cgi finds its script through SCRIPT_FILENAME, not argv', async () => {
  assert.deepEqual((await describeSource('x.php', '<?php echo 1;')).command, ['php-cgi']);
});

test('nph- scripts are marked (RFC 3875 §5)', async () => {
  assert.equal((await describeSource('nph-x.sh', 'echo')).nph, true);
  assert.equal((await describeSource('x-nph.sh', 'echo')).nph, false);
});

test('a file nothing can run is refused with the reason', async () => {
  await assert.rejects(
    describeSource('hello.c', 'int main(){}'),
    (e: Error) => e instanceof ScriptError && /no interpreter is known for "\.c"/.test(e.message),
  );
});

test('a changed file is described anew', async () => {
  const first = await describeSource('m.js', 'console.log(1)');
  assert.equal(first.kind, 'program');
  await writeFile(first.file, 'export default () => {}');
  await utimes(first.file, new Date(), new Date(Date.now() + 5000));
  assert.equal((await describeScript(first.file, first.name)).kind, 'handler');
});
