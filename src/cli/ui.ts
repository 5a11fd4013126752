/**
 * The single exit path for the command line's errors. Colours live in the kit (src/ui.ts);
 * they are re-exported here so a command file needs one import for both.
 */
import type { Command, Option } from 'commander';
import { paintErr } from '../ui.ts';

export { paint, UsageError } from '../ui.ts';

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
function ourVoice(commanderMessage: string): string {
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
function optionHelp(option: Option): string {
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
