/**
 * A handler's stdout (src/script/handler.ts): a real Writable, as the contract promises, that
 * first keeps what the handler writes and becomes a stream only when it has to.
 *
 * Most handlers print a small response and return without waiting on anything. Their whole
 * output is then in hand within the turn of the event loop that called them, and the gateway
 * answers it in one piece (src/server/gateway.ts, "the whole-output path") rather than reading a
 * head from a stream and copying a body with backpressure, which costs several times what the
 * handler did. A handler still running at the end of that turn, or one that has written more
 * than its keep limit, is streamed instead: stream() hands out a Readable that begins with what
 * was kept and, from then on, has backpressure (a slow client slows big.js, as a full pipe slows
 * a CGI program).
 */
import { PassThrough, type Readable, Writable } from 'node:stream';

export class HandlerOutput extends Writable {
  /** Whether the handler wrote anything at all: failing before any output is a 500, not a 502. */
  wrote = false;
  /** What was written while nobody read it; undefined once it is a stream. */
  private kept: Buffer[] | undefined = [];
  private keptBytes = 0;
  /** end() has been called and every write before it taken. */
  private ended = false;
  /** The output ends short: destroyed before its end, with an error, or cut off. */
  cut = false;
  private readable: PassThrough | undefined;
  private readonly keepBytes: number;
  private readonly onFull: () => void;

  /** `onFull` is told when more than `keepBytes` is kept: time to stream rather than hold it all. */
  constructor(keepBytes: number, onFull: () => void) {
    super();
    this.keepBytes = keepBytes;
    this.onFull = onFull;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (chunk.length > 0) this.wrote = true;
    // Forwarded with its callback: the handler's write() says false while the reader is behind.
    if (this.readable) return void this.readable.write(chunk, callback);
    this.kept?.push(chunk);
    this.keptBytes += chunk.length;
    callback();
    if (this.keptBytes > this.keepBytes) this.onFull();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ended = true;
    this.readable?.end();
    callback();
  }

  // A Writable destroys itself once finished (autoDestroy); what it wrote is still to be read then.
  // Destroyed before its end, or with an error, the output is cut short.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error || !this.ended) this.cut = true;
    if (this.cut) this.readable?.destroy(error ?? undefined);
    callback(error);
  }

  /** The runner stops reading it (the request was stopped): the reader sees the output end short. */
  cutOff(): void {
    this.cut = true;
    this.readable?.destroy();
    this.destroy();
  }

  /** Everything written, in one buffer; for a handler that has ended, as one that failed may not have. */
  whole(): Buffer {
    const kept = this.kept ?? [];
    return kept.length === 1 ? (kept[0] as Buffer) : Buffer.concat(kept);
  }

  /** The output as a stream from its first byte, what was kept included. Idempotent. */
  stream(): Readable {
    if (this.readable) return this.readable;
    const readable = new PassThrough();
    // Whoever reads it sees an error as the end of the output; it must not crash the server.
    readable.on('error', () => {});
    this.readable = readable;
    for (const chunk of this.kept ?? []) readable.write(chunk);
    this.kept = undefined;
    if (this.cut) readable.destroy(this.errored ?? undefined);
    else if (this.ended) readable.end();
    return readable;
  }
}
