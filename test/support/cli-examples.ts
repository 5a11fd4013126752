/**
 * The `webhist …` lines of the docs' examples, checked against the real CLI without running
 * anything: each command's own commander definition (src/cli/<command>.ts) parses the line
 * with its actions replaced by no-ops, so an unknown option, a missing argument or a value
 * the option's parser refuses fails, exactly as it would for a reader who typed it.
 * A synopsis line (one with `[--option …]`) is not a command: each option it names must exist.
 */
import { Command, CommanderError } from 'commander';

export interface CliExample {
  /** The words after `webhist`, as the shell would split them. */
  words: string[];
  synopsis: boolean;
  line: string;
}

/** The webhist command lines in a block of shell text (continuation lines joined). */
export function cliExamplesOf(lines: string[]): CliExample[] {
  const examples: CliExample[] = [];
  for (const raw of lines) {
    const line = raw.replace(/^\$ /, '');
    const command = /^(?:npx )?webhist(?:\s+(.*))?$/.exec(line.trim());
    const last = examples.at(-1);
    if (command) {
      const text = stripShell(command[1] ?? '');
      examples.push({ words: splitWords(text), synopsis: text.includes('['), line: line.trim() });
    } else if (last?.synopsis && /^\s+\S/.test(raw)) {
      // An indented line continues a synopsis ("fastcgi: [--workers 4]").
      last.words.push(...splitWords(stripShell(raw.replace(/^\s*\w+:\s/, ''))));
    }
  }
  return examples;
}

/**
 * Drops what the shell, not webhist, reads: a comment, `&`, redirections, pipes, a `;` and what
 * follows. Only outside quotes: `--header 'User-Agent: () { :; }; echo pwned'` is one word.
 */
function stripShell(text: string): string {
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (/^(?:\s#\s|[12]?>|\||&&|;|&\s*$)/.test(text.slice(i - (c === '#' ? 1 : 0)))) {
      return text.slice(0, c === '#' ? i - 1 : i).trim();
    }
  }
  return text.trim();
}

function splitWords(text: string): string[] {
  return [...text.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** Why the real CLI would refuse this example, or undefined if it accepts it. */
export async function refusal(example: CliExample): Promise<string | undefined> {
  const [name, ...args] = example.words;
  if (name === undefined || name.startsWith('-')) return undefined; // `webhist --help`
  const command = await commandNamed(name);
  if (!command) return `webhist has no command "${name}"`;
  if (example.synopsis) {
    const known = new Set(allOptions(command));
    const unknown = args
      .filter((word) => /^\[?--[\w-]+/.test(word))
      .map((word) => word.replace(/^\[?(--[\w-]+).*$/, '$1'))
      .filter((flag) => !known.has(flag));
    return unknown.length ? `webhist ${name} has no option ${unknown.join(', ')}` : undefined;
  }
  quiet(command);
  try {
    await command.parseAsync(args, { from: 'user' });
    return undefined;
  } catch (error) {
    if (error instanceof CommanderError) return ['commander.helpDisplayed', 'commander.version'].includes(error.code) ? undefined : error.message;
    return (error as Error).message;
  }
}

/** One file per command (src/cli/<name>.ts) exporting its Command: DESIGN.md's shape. */
async function commandNamed(name: string): Promise<Command | undefined> {
  const module: Record<string, unknown> = await import(`../../src/cli/${name}.ts`).catch(() => ({}));
  return Object.values(module).find((value): value is Command => value instanceof Command && value.name() === name);
}

function allOptions(command: Command): string[] {
  return [...command.options.flatMap((option) => [option.long ?? '', option.negate ? option.long!.replace(/^--no-/, '--') : '']), '--help'];
}

/** No action runs, nothing is printed, and no error exits the test process. */
function quiet(command: Command): void {
  command.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  command.action(() => {});
  for (const sub of command.commands) quiet(sub);
}
