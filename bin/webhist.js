#!/usr/bin/env node
// Plain JavaScript on purpose: it must be able to say "too old" on any Node before loading
// code that needs a newer one. npm scripts and `npx webhist` run it on the project's pinned
// Node 24 (the `node` devDependency puts it first on PATH). Started another way (through
// `npm link` or `npm install -g .`, from any folder) on an older system Node, it hands itself
// over to that pinned Node when the clone has it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  const pinned = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
  if (existsSync(pinned) && process.execPath !== pinned) {
    const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
    // Ctrl-C reaches both processes (one terminal group); a signal sent to this pid alone is passed on.
    for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
    process.on('SIGINT', () => {});
    child.on('exit', (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
  } else {
    process.stderr.write(
      `webhist: Node.js 22 or newer is needed; this is ${process.version}.\n` +
        `  In a clone, \`npm install\` then \`npx webhist ...\` uses the project's own Node 24.\n`,
    );
    process.exit(1);
  }
} else {
  try {
    await import('../dist/src/cli/main.js');
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/cli/main.js')) {
      process.stderr.write('webhist: not built yet; run `npm install` (or `npm run build`) in the project first.\n');
      process.exit(1);
    }
    throw error;
  }
}
