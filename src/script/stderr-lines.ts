/**
 * What a script writes to stderr, as lines for the error log: one rule for every mode, so the
 * error log says the same whichever mode ran the script, however the bytes were chunked on the
 * way (a pipe, FastCGI STDERR records). A line ends at LF; a CR before it is dropped (a script
 * written on Windows, or a CGI program printing CRLF), and a line is cut into pieces of MAX_LINE
 * characters, so a script that floods stderr without a newline cannot grow memory.
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
    if (this.#pending) this.#say(this.#pending.replace(/\r$/, ''));
    this.#pending = '';
  }

  #emit(text: string): void {
    const lines = (this.#pending + text).split('\n');
    this.#pending = lines.pop() ?? '';
    for (const line of lines) this.#say(line.replace(/\r$/, ''));
    // A line still without its newline is cut as it grows, as a whole line would be (one byte
    // more is kept: it may be the CR of a CRLF, which is dropped, not a byte of the line).
    while (this.#pending.length > MAX_LINE + 1) {
      this.#onLine(this.#pending.slice(0, MAX_LINE));
      this.#pending = this.#pending.slice(MAX_LINE);
    }
  }

  /** Says a line in pieces of at most MAX_LINE, however it arrived. */
  #say(line: string): void {
    for (; line.length > MAX_LINE; line = line.slice(MAX_LINE)) this.#onLine(line.slice(0, MAX_LINE));
    this.#onLine(line);
  }
}

export function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  const lines = new LineSplitter(onLine);
  stream.on('data', (chunk: Buffer) => lines.push(chunk));
  stream.on('end', () => lines.end());
  stream.on('error', () => {});
}
