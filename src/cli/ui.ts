/**
 * The single exit path for the command line's errors. Colours live in the kit (src/ui.ts);
 * they are re-exported here so a command file needs one import for both.
 */
import { paintErr } from '../ui.ts';

export { paint, UsageError } from '../ui.ts';

/** One clear line on stderr and a non-zero status. */
export function fail(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${paintErr.red('webhist:')} ${message}\n`);
  process.exit(1);
}
