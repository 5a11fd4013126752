#!/usr/bin/env node
// Plain JavaScript on purpose: it must be able to say "too old" on any Node before loading
// code that needs a newer one. npm scripts and `npx webhist` run it on the project's pinned
// Node 24 (the `node` devDependency puts it first on PATH).
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(
    `webhist: Node.js 22 or newer is needed; this is ${process.version}.\n` +
      `  In a clone, \`npm install\` then \`npx webhist ...\` uses the project's own Node 24.\n`,
  );
  process.exit(1);
}
try {
  await import('../dist/src/cli/main.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/cli/main.js')) {
    process.stderr.write('webhist: not built yet; run `npm install` (or `npm run build`) in the project first.\n');
    process.exit(1);
  }
  throw error;
}
