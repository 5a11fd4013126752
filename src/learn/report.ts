/**
 * How a verify result reads: one ✓ or ✗ line per check, grouped by mode; the first failure
 * in full (the curl command, the bytes sent and received with \r\n shown, the reason); every
 * exchange with --verbose. Colours come from the caller (the CLI's one palette), so this
 * file prints the same words with or without a terminal.
 */
import type { Recorded } from './checks.ts';
import { showBytes } from './wire.ts';
import type { CheckResult, VerifyResult } from './verify.ts';

export type Paint = Record<'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan' | 'magenta', (text: string) => string>;

export function formatResult(result: VerifyResult, paint: Paint, options: { verbose?: boolean; last?: boolean } = {}): string {
  const { verbose = false, last = false } = options;
  const out: string[] = [];
  out.push(`${paint.bold(`Lesson ${result.lesson}: ${result.title}`)}  ${paint.dim(`(seed ${result.seed}; repeat with --seed ${result.seed})`)}`);
  if (result.status === 'error') {
    out.push(`${paint.red('✗')} ${result.error}`);
    return `${out.join('\n')}\n`;
  }
  let first: { check: CheckResult; mode: string } | undefined;
  for (const mode of result.modes) {
    out.push('', paint.bold(`${mode.mode} mode`));
    for (const note of mode.notes) out.push(`  ${paint.dim(note)}`);
    for (const check of mode.checks) {
      const mark = check.status === 'pass' ? paint.green('✓') : check.status === 'skip' ? paint.yellow('○') : paint.red('✗');
      out.push(`  ${mark} ${check.title} ${paint.dim(`(task ${check.task})`)}`);
      if (check.status === 'skip') out.push(`      ${paint.yellow(`skipped: ${check.reason}`)}`);
      if (check.status === 'fail') {
        out.push(`      ${paint.red(check.reason ?? '')}`);
        first ??= { check, mode: mode.mode };
      }
      if (verbose) out.push(...check.exchanges.flatMap((e) => formatExchange(e, paint)).map((line) => `      ${line}`));
    }
  }
  if (first && !verbose) {
    out.push('', paint.bold(`── the first failure in full: ${first.check.title} (${first.mode} mode) ──`));
    const exchanges = first.check.exchanges;
    if (!exchanges.length) out.push(paint.dim('(nothing was sent)'));
    for (const exchange of exchanges) out.push(...formatExchange(exchange, paint));
    out.push(`${paint.red('✗')} ${first.check.reason}`);
  }
  const checks = result.modes.flatMap((m) => m.checks);
  const passed = checks.filter((c) => c.status === 'pass').length;
  const skipped = checks.filter((c) => c.status === 'skip').length;
  out.push('');
  if (skipped) out.push(paint.yellow(`${skipped} check(s) skipped: see why above.`));
  if (result.status === 'pass') {
    const next = last ? 'that was the last lesson' : `the next lesson: ${paint.cyan(`webhist learn start ${result.lesson + 1}`)}`;
    out.push(`${paint.green(`All ${passed} checks pass.`)} Read the solution's notes: ${paint.cyan(`webhist learn solution ${result.lesson}`)}; ${next}`);
  } else {
    out.push(`${passed} of ${checks.length} checks pass. Stuck? ${paint.cyan(`webhist learn hint ${result.lesson}`)}`);
  }
  return `${out.join('\n')}\n`;
}

function formatExchange(exchange: Recorded, paint: Paint): string[] {
  const out: string[] = [];
  if (exchange.label) out.push(paint.dim(`# ${exchange.label}`));
  if (exchange.curl) out.push(paint.cyan(`$ ${exchange.curl}`));
  if (exchange.command) out.push(paint.cyan(`$ ${exchange.command}`));
  if (exchange.sent)
    out.push(
      paint.dim(`> sent (${exchange.sent.length} bytes)`),
      ...showBytes(exchange.sent)
        .split('\n')
        .map((l) => `> ${l}`),
    );
  if (exchange.received) {
    const ended =
      exchange.ended === 'timeout'
        ? '; then nothing more, until the checker gave up'
        : exchange.ended === 'closed'
          ? '; then the server closed the connection'
          : '';
    out.push(paint.dim(`< ${exchange.command ? 'printed on stdout' : 'received'} (${exchange.received.length} bytes${ended})`));
    if (exchange.received.length)
      out.push(
        ...showBytes(exchange.received)
          .split('\n')
          .map((l) => `< ${l}`),
      );
  }
  if (exchange.error) out.push(paint.red(`! ${exchange.error}`));
  return out;
}

/** The result as JSON: bytes become text with the line ends kept. */
export function resultJson(result: VerifyResult): unknown {
  return {
    ...result,
    modes: result.modes.map((mode) => ({
      ...mode,
      checks: mode.checks.map((check) => ({
        ...check,
        exchanges: check.exchanges.map((e) => ({ ...e, sent: e.sent?.toString('utf8'), received: e.received?.toString('utf8') })),
      })),
    })),
  };
}
