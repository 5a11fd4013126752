/**
 * What a script writes to stderr, as lines for the error log: one rule for every mode, so the
 * error log says the same whichever mode ran the script. A line ends at LF; a CR before it is
 * dropped (a script written on Windows, or a CGI program printing CRLF), and a line is cut at
 * MAX_LINE bytes so a script that floods stderr without a newline cannot grow memory.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

export const MAX_LINE = 4096;

/** Fed chunks as they come (a pipe's data, FastCGI STDERR records); says each whole line once. */
export class LineSplitter {
  #decoder = new StringDecoder('utf8');
  #pending = '';
  readonly #onLine: (line: string) => void;

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    this.#emit(this.#decoder.write(chunk));
  }

  /** The stream ended: what is left is a last line without its newline. */
  end(): void {
    this.#emit(this.#decoder.end());
    if (this.#pending) this.#onLine(this.#pending);
    this.#pending = '';
  }

  #emit(text: string): void {
    const lines = (this.#pending + text).split('\n');
    this.#pending = lines.pop() ?? '';
    for (const line of lines) this.#onLine(line.replace(/\r$/, ''));
    while (this.#pending.length > MAX_LINE) {
      this.#onLine(this.#pending.slice(0, MAX_LINE));
      this.#pending = this.#pending.slice(MAX_LINE);
    }
  }
}

export function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  const lines = new LineSplitter(onLine);
  stream.on('data', (chunk: Buffer) => lines.push(chunk));
  stream.on('end', () => lines.end());
  stream.on('error', () => {});
}
