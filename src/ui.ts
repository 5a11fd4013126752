/**
 * The one place for colours, and the kind of error a user can fix. chalk turns colour off by
 * itself when output is not a terminal (or NO_COLOR is set), so logs and pipes stay plain.
 * The kit (the server's logs), the bench harness and the CLI all paint through here.
 */
import chalk, { chalkStderr, type ChalkInstance } from 'chalk';

const palette = (c: ChalkInstance) => ({
  bold: c.bold,
  dim: c.dim,
  red: c.red,
  green: c.green,
  yellow: c.yellow,
  cyan: c.cyan,
  magenta: c.magenta,
});

/** Colours for what goes to stdout, and for what goes to stderr (each checks its own stream). */
export const paint = palette(chalk);
export const paintErr = palette(chalkStderr);

/** A problem the user can fix: printed as one line, never as a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}
