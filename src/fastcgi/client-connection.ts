/**
 * One connection from the web-server side to a FastCGI application (client.ts chooses which):
 * request ids, the records that come back for each (STDOUT, STDERR, END_REQUEST, §5), the
 * management records (§4), backpressure both ways, and what happens to every request on it
 * when the connection fails.
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { FastCgiError, FastCgiProtocolError, NULL_REQUEST_ID, PID_VALUE, RecordType, nameOf } from './protocol.ts';
import { RecordParser, decodeEndRequestBody, record, type FcgiRecord } from './records.ts';
import { decodeParams, encodeParams } from './params.ts';
import { RecordWriter } from './writer.ts';
import type { TraceRecord } from './trace.ts';
import { LineSplitter } from '../script/stderr-lines.ts';
import type { StdoutSink } from './client-stdout.ts';

/** One attempt at a request on this connection, as the client sees it. */
export interface Attempt {
  readonly id: number;
  /** False once END_REQUEST came or the request was aborted: nothing more may go out on its id. */
  readonly inputOpen: boolean;
  /**
   * The connection had served earlier requests, then closed without a single record for this
   * one: a kept connection the application dropped (it retired, or died) just as the request
   * went out. The request may not have been seen at all.
   */
  readonly unanswered: boolean;
}

const EMPTY = Buffer.alloc(0);

/** How a request ended: END_REQUEST's body (§5.5). */
export interface EndRequest {
  appStatus: number;
  /** REQUEST_COMPLETE, or why the application refused the request (§5.5). */
  protocolStatus: number;
}

/** How an attempt ends: told once, by callback rather than a promise (one less hop per request). */
export interface AttemptEnd {
  /** END_REQUEST came. */
  onEnd(end: EndRequest): void;
  /** The connection failed first, or the request was aborted. */
  onFail(error: unknown): void;
}

interface Pending extends Attempt {
  inputOpen: boolean;
  unanswered: boolean;
  stdout: StdoutSink;
  settled: boolean;
  reused: boolean;
  answered: boolean;
  end: AttemptEnd;
  /** STDERR as error-log lines, by the rule every mode keeps (src/script/stderr-lines.ts). */
  stderr: LineSplitter | undefined;
  grace: NodeJS.Timeout | undefined;
  /** Who waits for the id to be free again (released()): told true at END_REQUEST, false if the connection goes. */
  onRelease: ((answered: boolean) => void) | undefined;
}

export interface ConnectionHooks {
  onRecord: TraceRecord | undefined;
  /** Ask the application its pid (PID_VALUE) before anything else goes out. */
  askPid?: boolean;
  /** Records on request id 0: GET_VALUES_RESULT, UNKNOWN_TYPE. */
  onManagement?: (record: FcgiRecord) => void;
}

export class ClientConnection {
  /** Settles when the socket has closed: `connected` false means the app was never reached. */
  readonly closed: Promise<{ connected: boolean; error: Error | undefined }>;
  /** The application process at the other end, once it has said (see `askPid`). */
  appPid: number | undefined;
  #socket: Socket;
  #name: string;
  #hooks: ConnectionHooks;
  #parser = new RecordParser();
  #writer: RecordWriter;
  #pending = new Map<number, Pending>();
  #pausedFor = new Set<number>();
  /** Requests that got STDOUT in the read being handled (see StdoutSink.partial). */
  #fed: Pending[] = [];
  #served = 0;
  #connected = false;
  #retiring = false;
  #error: Error | undefined;

  constructor(socket: Socket, name: string, hooks: ConnectionHooks) {
    this.#socket = socket;
    this.#name = name;
    this.#hooks = hooks;
    this.#writer = new RecordWriter(socket, hooks.onRecord);
    // Queued first, so it leaves in the same write as the first request, and the answer comes
    // back before that request's output: no round trip of its own.
    if (hooks.askPid) this.send([record(RecordType.GET_VALUES, NULL_REQUEST_ID, encodeParams([[PID_VALUE, '']]))]);
    socket.once('connect', () => (this.#connected = true));
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('end', () => (this.#retiring = true));
    socket.on('error', (error) => (this.#error ??= error));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#lost();
        resolve({ connected: this.#connected, error: this.#error });
      }),
    );
  }

  /** Request ids in use, including aborted ones still waiting for END_REQUEST. */
  get inFlight(): number {
    return this.#pending.size;
  }

  get reusable(): boolean {
    return !this.#retiring && !this.#socket.destroyed && !this.#socket.writableEnded;
  }

  /**
   * Reserves the lowest free request id (§3.3: the web server keeps ids small). STDOUT goes
   * into `stdout`, which the caller owns (a retried request keeps it), and whose reader must
   * call resume(id) after push() said false; `end` hears how the attempt ends.
   */
  open(stdout: StdoutSink, onStderr: ((line: string) => void) | undefined, end: AttemptEnd): Attempt {
    let id = 1;
    while (this.#pending.has(id)) id++;
    const pending: Pending = {
      id,
      stdout,
      end,
      stderr: onStderr && new LineSplitter(onStderr),
      inputOpen: true,
      unanswered: false,
      settled: false,
      answered: false,
      reused: this.#served > 0,
      grace: undefined,
      onRelease: undefined,
    };
    this.#pending.set(id, pending);
    this.#socket.ref();
    return pending;
  }

  /** Queues records; what is sent in one event-loop turn leaves in one write (writer.ts). */
  send(records: FcgiRecord[]): void {
    this.#writer.send(records);
  }

  /** Sends what is queued, then shuts our sending side (FIN): "that was all". */
  endSending(): void {
    this.#writer.flush();
    this.#socket.end();
  }

  /** Sends a stream as records of `type` for request `id` (RecordWriter.copy). */
  copy(source: Readable, type: number, id: number, wanted: () => boolean): Promise<number> {
    return this.#writer.copy(source, type, id, wanted);
  }

  /** The caller has read STDOUT down: read the connection again. */
  resume(id: number): void {
    if (this.#pausedFor.delete(id) && this.#pausedFor.size === 0) this.#socket.resume();
  }

  /** ABORT_REQUEST (§5.4); the id stays reserved until END_REQUEST, or for `graceMs` at most. */
  abort(attempt: Attempt, reason: unknown, graceMs: number): void {
    const p = this.#pending.get(attempt.id);
    if (!p || p !== attempt || !p.inputOpen) return;
    p.inputOpen = false;
    this.send([record(RecordType.ABORT_REQUEST, p.id)]);
    this.#fail(p, reason);
    p.grace = setTimeout(() => {
      // The application ignores the abort: use this connection for nothing new, and drop it
      // as soon as nothing but abandoned requests remains on it.
      this.#retiring = true;
      this.#dropIfAbandoned();
    }, graceMs).unref();
  }

  /** See ClientResponse.released(). */
  released(attempt: Attempt, withinMs: number): Promise<boolean> {
    const p = this.#pending.get(attempt.id);
    if (!p || p !== attempt) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), withinMs);
      const before = p.onRelease;
      p.onRelease = (answered) => {
        clearTimeout(timer);
        before?.(answered);
        resolve(answered);
      };
    });
  }

  /** Between requests an idle connection must not keep the process alive. */
  idle(): void {
    this.#socket.unref();
  }

  use(): this {
    this.#socket.ref();
    return this;
  }

  /** Closes now; requests still on it fail with `reason`. */
  close(reason = 'the connection was closed'): Promise<{ connected: boolean; error: Error | undefined }> {
    for (const p of this.#pending.values()) this.#fail(p, new FastCgiError(`fastcgi: ${reason}`));
    this.#socket.destroy();
    return this.closed;
  }

  #receive(chunk: Buffer): void {
    try {
      this.#parser.feed(chunk, this.#onRecord);
      // A request whose STDOUT began in this read and did not end in it is still writing.
      for (const p of this.#fed) if (this.#pending.get(p.id) === p) p.stdout.partial();
      this.#fed.length = 0;
    } catch (error) {
      this.#fed.length = 0;
      // What the parser or #handle refused is the application's fault; anything else (a reader
      // of STDOUT or STDERR that threw) is ours, and must not be charged to the worker.
      this.#error ??= error instanceof FastCgiError ? new FastCgiProtocolError(`${error.message} (from ${this.#name})`) : (error as Error);
      this.#socket.destroy();
    }
  }

  #onRecord = (r: FcgiRecord): void => {
    if (this.#socket.destroyed) return; // closed by a handler of an earlier record in this read
    this.#hooks.onRecord?.(r, 'recv');
    this.#handle(r);
  };

  #handle(r: FcgiRecord): void {
    if (r.requestId === NULL_REQUEST_ID) return this.#management(r);
    const p = this.#pending.get(r.requestId);
    if (!p) throw new FastCgiError(`fastcgi: ${nameOf(RecordType, r.type)} for request ${r.requestId}, which is not active`);
    p.answered = true;
    switch (r.type) {
      case RecordType.STDOUT:
        if (p.settled) return; // aborted: dropped
        if (r.content.length === 0) p.stdout.push(null);
        else if (this.#fed.push(p) && !p.stdout.push(r.content)) {
          // The caller reads slower than the app writes: stop reading the connection
          // (every request on it waits: FastCGI has no per-request flow control).
          this.#pausedFor.add(p.id);
          this.#socket.pause();
        }
        return;
      case RecordType.STDERR:
        return this.#stderr(p, r.content);
      case RecordType.END_REQUEST: {
        const end = decodeEndRequestBody(r.content);
        this.#stderr(p, EMPTY);
        this.#pending.delete(p.id);
        this.#served++;
        clearTimeout(p.grace);
        this.resume(p.id);
        p.inputOpen = false;
        if (!p.settled) {
          p.settled = true;
          p.end.onEnd(end); // the client ends stdout, unless it retries a refused request
        }
        p.onRelease?.(true);
        if (this.#retiring) this.#dropIfAbandoned();
        return;
      }
      default:
        throw new FastCgiError(`fastcgi: unexpected ${nameOf(RecordType, r.type)} record for request ${p.id}`);
    }
  }

  #management(r: FcgiRecord): void {
    if (this.#hooks.askPid && r.type === RecordType.GET_VALUES_RESULT) {
      const pid = Number(new Map(decodeParams(r.content)).get(PID_VALUE));
      if (Number.isSafeInteger(pid) && pid > 0) this.appPid = pid;
    }
    this.#hooks.onManagement?.(r);
  }

  /** Hands STDERR on line by line; an empty record (or END_REQUEST) flushes the last line. */
  #stderr(p: Pending, content: Buffer): void {
    if (!p.stderr || p.settled) return;
    if (content.length > 0) p.stderr.push(content);
    else p.stderr.end();
  }

  #fail(p: Pending, error: unknown): void {
    this.resume(p.id);
    if (p.settled) return;
    p.settled = true;
    p.inputOpen = false;
    p.end.onFail(error);
  }

  #dropIfAbandoned(): void {
    if ([...this.#pending.values()].every((p) => !p.inputOpen)) this.#socket.destroy();
  }

  /** The socket closed: every request still on it fails, naming why. */
  #lost(): void {
    const protocolError = this.#error instanceof FastCgiProtocolError;
    for (const p of this.#pending.values()) {
      clearTimeout(p.grace);
      p.unanswered = this.#connected && !protocolError && p.reused && !p.answered;
      const why = !this.#connected
        ? `fastcgi: cannot connect to ${this.#name}: ${this.#error?.message ?? 'closed'}`
        : protocolError
          ? this.#error!.message
          : `fastcgi: ${this.#name} closed the connection before END_REQUEST of request ${p.id}${this.#error ? ` (${this.#error.message})` : ''}`;
      this.#fail(p, protocolError ? new FastCgiProtocolError(why) : new FastCgiError(why));
      p.onRelease?.(false);
    }
    this.#pending.clear();
  }
}
