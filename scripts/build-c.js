#!/usr/bin/env node
// build-c.js: compiles each cgi-bin/NAME.c to cgi-bin/NAME.cgi with `cc -O2` during install,
// and the spawn helper CGI mode uses (src/run/spawn-helper.c → build/webhist-spawn-helper).
//
// A source file says what it needs in two comment lines, read here:
//   // requires: fcgi_stdio.h (libfcgi-dev)   headers that must exist, with the package to install
//   // build: -lfcgi                          extra flags for the compiler (after the source)
// A missing compiler or header skips the program with one line saying what to install; this
// script always exits 0, because a C demo must never make `npm install` fail.
// Plain JavaScript with no dependencies, so it runs before anything is built (Node 20 and later).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cgiBin = fileURLToPath(new URL('../cgi-bin/', import.meta.url));
const root = fileURLToPath(new URL('../', import.meta.url));
const cc = process.env.CC || 'cc';
const sources = readdirSync(cgiBin)
  .filter((f) => f.endsWith('.c'))
  .sort();

/** Runs the compiler; `error` is set when it could not be started at all. */
function compiler(args, input) {
  return spawnSync(cc, args, { input, encoding: 'utf8' });
}

/** The values of every `NAME: ...` comment line in a source file. */
function directives(source, name) {
  const pattern = new RegExp(`^\\s*(?://|/?\\*)\\s*${name}:\\s*(.*?)\\s*(?:\\*/)?\\s*$`, 'gm');
  return [...source.matchAll(pattern)].map((m) => m[1]);
}

/** Whether the compiler can find a header: asking it beats guessing its include path. */
function hasHeader(header) {
  return compiler(['-E', '-x', 'c', '-o', '/dev/null', '-'], `#include <${header}>\n`).status === 0;
}

function newer(a, b) {
  try {
    return statSync(a).mtimeMs > statSync(b).mtimeMs;
  } catch {
    return false; // a does not exist yet
  }
}

function build(file, src = join(cgiBin, file), out = join(cgiBin, file.replace(/\.c$/, '.cgi'))) {
  const outName = basename(out);
  if (newer(out, src)) return `${file}: ${outName} is up to date`;

  const source = readFileSync(src, 'utf8');
  for (const line of directives(source, 'requires')) {
    const [, header, pkg] = /^(\S+)(?:\s*\((.*)\))?/.exec(line) ?? [];
    if (header && !hasHeader(header)) {
      return `${file}: not built, ${header} is missing${pkg ? `; apt-get install ${pkg}` : ''}`;
    }
  }
  const flags = directives(source, 'build').flatMap((line) => line.split(/\s+/).filter(Boolean));
  const result = compiler(['-O2', '-o', out, src, ...flags]);
  if (result.status !== 0) {
    const why = (result.stderr || '')
      .trim()
      .split('\n')
      .slice(0, 5)
      .map((l) => `  ${l}`)
      .join('\n');
    return `${file}: not built, ${cc} failed${why ? `:\n${why}` : ''}`;
  }
  return `${file}: built ${outName}`;
}

if (sources.length > 0) {
  if (compiler(['--version']).error) {
    console.log(`no C compiler (${cc}): ${sources.join(', ')} not built; apt-get install gcc`);
  } else {
    for (const file of sources) console.log(build(file));
    mkdirSync(join(root, 'build'), { recursive: true });
    const helper = build('spawn-helper.c', join(root, 'src/run/spawn-helper.c'), join(root, 'build/webhist-spawn-helper'));
    console.log(`${helper}${helper.includes('not built') ? ' (CGI mode falls back to spawning from Node)' : ''}`);
  }
}
