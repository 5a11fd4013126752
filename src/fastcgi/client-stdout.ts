/**
 * A request's STDOUT on the web-server side (client.ts). Its records are kept as they come until
 * someone asks for them as a stream; a response that ends well while still small can then be
 * taken whole, with no stream at all (`whole()`): what a small page from a persistent worker
 * usually is, since the application's records for it leave in one write (writer.ts) and arrive
 * in one read. Measured (issue 13): a Readable per request, and the streamed path behind it, were
 * most of what the server spent on a FastCGI request beyond node:http.
 */
import { Readable } from 'node:stream';

/** Where a connection (client-connection.ts) puts the STDOUT records of one request. */
export interface StdoutSink {
  /** A record's content, or null at the end of the stream. False: stop reading until resume(id). */
  push(chunk: Buffer | null): boolean;
  /** The read that brought STDOUT for the request is done, and the request has not ended. */
  partial(): void;
}

/** The most output taken whole; past it, the response streams. */
const WHOLE_BYTES = 64 * 1024;
/** Kept without a reader up to this, as a Readable's buffer would be; then the connection waits. */
const HIGH_WATER = 64 * 1024;
const NOT_WHOLE = Promise.resolve(undefined);

export class ClientStdout implements StdoutSink {
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #received = false;
  #ended = false;
  #failure: Error | undefined;
  #stream: Readable | undefined;
  #resume: () => void;
  /** Whole output is still possible: nobody took the stream, it is small, and it did not stop short. */
  #wholeOpen = true;
  #tellWhole: ((output: Buffer | undefined) => void) | undefined;

  /** `resume` is called when a reader wants more after push() said false. */
  constructor(resume: () => void) {
    this.#resume = resume;
  }

  /** The output as a stream, from its first byte: created on first use, and from then on whole() is over. */
  get stream(): Readable {
    if (this.#stream) return this.#stream;
    this.giveUpWhole();
    const stream = new Readable({ highWaterMark: HIGH_WATER, read: () => this.#resume() });
    stream.on('error', () => {}); // the same error rejects the response's `ended`; pipeline() still sees it
    for (const chunk of this.#kept) stream.push(chunk);
    this.#kept = [];
    if (this.#failure) stream.destroy(this.#failure);
    else if (this.#ended) stream.push(null);
    this.#stream = stream;
    return stream;
  }

  /** Nothing came yet: a refused request may be sent again (client.ts). */
  get untouched(): boolean {
    return !this.#received && !this.#ended;
  }

  /** No more STDOUT is wanted: it ended, failed, or its reader destroyed the stream. */
  get done(): boolean {
    return this.#ended || this.#failure !== undefined || this.#stream?.destroyed === true;
  }

  push(chunk: Buffer | null): boolean {
    if (this.done) return true; // a STDOUT record after the stream's end, or after an abort: dropped
    if (chunk === null) {
      this.#ended = true;
      this.#stream?.push(null);
      return true;
    }
    this.#received = true;
    if (this.#stream) return this.#stream.push(chunk);
    this.#kept.push(chunk);
    this.#keptBytes += chunk.length;
    if (this.#keptBytes > WHOLE_BYTES) this.giveUpWhole();
    return this.#keptBytes < HIGH_WATER;
  }

  partial(): void {
    this.giveUpWhole();
  }

  /** END_REQUEST came: `ok` when the application completed the request with status 0. */
  end(ok: boolean): void {
    this.push(null);
    if (!ok || !this.#wholeOpen) return this.giveUpWhole();
    this.#wholeOpen = false;
    const whole = this.#kept.length === 1 ? this.#kept[0]! : Buffer.concat(this.#kept, this.#keptBytes);
    this.#tellWhole?.(whole);
    this.#tellWhole = undefined;
  }

  /** The request failed (the connection went, or it was aborted): a reader sees the error. */
  fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    if (this.#stream && !this.#stream.readableEnded) this.#stream.destroy(error);
    this.giveUpWhole();
  }

  /**
   * The whole output, if the request completes well (status 0) before anyone takes the stream,
   * and within WHOLE_BYTES; undefined as soon as that cannot be. The records stay kept either
   * way: the stream, taken later, still starts at the first byte.
   */
  whole(): Promise<Buffer | undefined> {
    if (!this.#wholeOpen) return NOT_WHOLE;
    return new Promise((resolve) => (this.#tellWhole = resolve));
  }

  /** From now on the output streams. */
  giveUpWhole(): void {
    if (!this.#wholeOpen) return;
    this.#wholeOpen = false;
    this.#tellWhole?.(undefined);
    this.#tellWhole = undefined;
  }
}
