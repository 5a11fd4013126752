/**
 * A real browser for tests: Debian's chromium, headless, driven by playwright-core. Where it
 * is not installed, `chromiumMissing` says so, naming the package, for a loud skip.
 */
import { existsSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { packageRoot } from '../../src/package-root.ts';

export type { Page };

export const chromiumPath = '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can. */
export const chromiumMissing: string | undefined = existsSync(chromiumPath)
  ? undefined
  : `needs Debian's chromium at ${chromiumPath}: apt-get install chromium (CI installs it in .ci/run)`;

/** Where tests leave screenshots for a person to look at (gitignored). */
export function resultsPath(name: string): string {
  const dir = join(packageRoot, 'test-results');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** Runs `fn` with a fresh page in a fresh headless chromium, closed however `fn` ends. */
export async function withPage<T>(fn: (page: Page) => Promise<T>): Promise<T> {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    return await fn(await browser.newPage());
  } finally {
    await browser.close();
  }
}
