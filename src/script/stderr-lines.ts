/**
 * Splits what a script writes to stderr into lines for the error log. A line is cut at
 * `maxLine` bytes so a script that floods stderr without a newline cannot grow memory.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

export function forEachLine(stream: Readable, onLine: (line: string) => void, maxLine = 4096): void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (text: string) => {
    const lines = (pending + text).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line.replace(/\r$/, ''));
    while (pending.length > maxLine) {
      onLine(pending.slice(0, maxLine));
      pending = pending.slice(maxLine);
    }
  };
  stream.on('data', (chunk: Buffer) => emit(decoder.write(chunk)));
  stream.on('end', () => {
    emit(decoder.end());
    if (pending) onLine(pending);
    pending = '';
  });
  stream.on('error', () => {});
}
