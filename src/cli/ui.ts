/**
 * The one place for colours and for leaving with an error. chalk turns colour off by itself
 * when output is not a terminal (or NO_COLOR is set), so logs and pipes stay plain.
 */
import chalk, { chalkStderr, type ChalkInstance } from 'chalk';
import type { Command, Option } from 'commander';

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

/** One error line in webhist's voice: `webhist: <what>: <what is wrong>`. */
function errorLine(message: string): string {
  return `${paintErr.red('webhist:')} ${message}\n`;
}

/** The single exit path for errors: one clear line on stderr and a non-zero status. */
export function fail(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(errorLine(message));
  process.exit(1);
}

/**
 * commander's own messages ("error: option '--port <n>' argument 'x' is invalid. …") put into
 * the shape of ours: the flag and the value the user typed, then what is wrong with it.
 */
export function ourVoice(commanderMessage: string): string {
  const text = commanderMessage.replace(/^error: /, '').trim();
  const invalid = /^option '(--?[\w-]+)[^']*' argument '(.*)' is invalid\. (.*)$/s.exec(text);
  if (invalid) {
    const [, flag, value, why] = invalid;
    return `${flag} ${value}: ${why!.replace(/^Allowed choices are (.*?)\.?$/, 'choose one of $1')}`;
  }
  const missing = /^option '(--?[\w-]+) (<[^>]+>)' argument missing$/.exec(text);
  if (missing) return `${missing[1]}: give a value, ${missing[1]} ${missing[2]}`;
  const argument = /^missing required argument '(.*)'$/.exec(text);
  if (argument) return `give the ${argument[1]}`;
  return text.replace(/'(--?[\w-]+|[\w-]+)'/g, '$1');
}

/**
 * An option's help line as the README writes it: `(one of a, b; default 30s)`. Values as a user
 * types them (a list as a,b), no quotes or JSON arrays, nothing said of a flag that is off.
 */
export function optionHelp(option: Option): string {
  const extras: string[] = [];
  if (option.argChoices) extras.push(`one of ${option.argChoices.join(', ')}`);
  const value = option.defaultValue as unknown;
  if (option.defaultValueDescription) extras.push(`default ${option.defaultValueDescription}`);
  else if (value !== undefined && typeof value !== 'boolean' && !(Array.isArray(value) && !value.length)) {
    extras.push(`default ${Array.isArray(value) ? value.join(',') : String(value)}`);
  }
  return extras.length ? `${option.description} (${extras.join('; ')})` : option.description;
}

/** Every command and subcommand speaks with our voice, in errors and in help, and says where help is. */
export function speakOurWay(command: Command, path = command.name()): void {
  command.configureHelp({ optionDescription: optionHelp });
  command.configureOutput({
    outputError: (message, write) => {
      // commander's hint after an error, when it gives one, is replaced by ours below.
      if (message.startsWith('(')) return;
      write(errorLine(ourVoice(message)));
      write(`${paintErr.dim(`  (see ${path} --help)`)}\n`);
    },
  });
  for (const sub of command.commands) speakOurWay(sub, `${path} ${sub.name()}`);
}
