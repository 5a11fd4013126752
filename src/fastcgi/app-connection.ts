/**
 * One connection on the application side (app.ts accepts it): the state of each request id
 * (§3.3), the input streams fed from PARAMS, STDIN and DATA records, the handler's output
 * copied into STDOUT and STDERR records with backpressure, END_REQUEST, the management
 * records, and closing the connection when the request asks for it (§3.5, §5.1).
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { FastCgiError, Flags, NULL_REQUEST_ID, PID_VALUE, ProtocolStatus, RecordType, Role, ValueName, nameOf } from './protocol.ts';
import { RecordParser, decodeBeginRequestBody, encodeEndRequestBody, encodeUnknownTypeBody, record, streamRecords, type FcgiRecord } from './records.ts';
import { ParamsCollector, decodeParams, encodeParams, type Pair } from './params.ts';
import { RecordWriter } from './writer.ts';
import type { AppHandler, AppRequest, AppSettings } from './app-contract.ts';

/** A peer that does not close its side this long after we closed ours is cut off. */
const LINGER_MS = 5000;

const STDOUT_BIT = 1;
const STDERR_BIT = 2;
const outputBit = (type: number) => (type === RecordType.STDOUT ? STDOUT_BIT : STDERR_BIT);

interface Input {
  stream: Readable;
  ended: boolean;
}

interface Active {
  id: number;
  role: Role;
  keepConn: boolean;
  params: ParamsCollector | undefined; // until the PARAMS stream ends
  stdin: Input;
  data: Input | undefined;
  /** Made when the handler first asks for its signal: a whole response never does. */
  controller: AbortController | undefined;
  /** Why it was stopped, for a signal asked for after that. */
  stopped: Error | undefined;
  /** When BEGIN_REQUEST came: its PARAMS must end within paramsTimeoutMs of it. */
  begunAt: number;
  started: boolean;
  aborted: boolean;
  finished: boolean;
  /** Output streams (bits of outputBit) that carried data, and those closed by their empty record. */
  opened: number;
  closed: number;
}

export class AppConnection {
  #socket: Socket;
  #handler: AppHandler;
  #settings: AppSettings;
  #counts: { requests: number };
  #parser = new RecordParser();
  #writer: RecordWriter;
  #requests = new Map<number, Active>();
  #pausedFor = new Set<number>();
  #closeWhenIdle = false;
  /**
   * The web server will send nothing more on this connection: it asked no FCGI_KEEP_CONN, or it
   * closed its side. Not so when we close it (draining, idle): it may be sending a request then.
   */
  #peerSendsNoMore = false;
  /** A request ended before all its input came: the peer may still be sending. */
  #inputPending = false;
  #draining = false;
  #closing = false;
  /** Since when no request has been in progress; undefined while one is. */
  #idleSince: number | undefined = Date.now();
  /** Requests whose PARAMS stream has not ended yet. */
  #awaitingParams = 0;
  /** One timer per connection for both limits (idle, PARAMS), armed only while one applies. */
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;

  constructor(socket: Socket, handler: AppHandler, settings: AppSettings, counts: { requests: number }) {
    this.#socket = socket;
    this.#handler = handler;
    this.#settings = settings;
    this.#counts = counts;
    this.#writer = new RecordWriter(socket, settings.onRecord);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('end', () => this.#peerEnded());
    socket.on('close', () => {
      clearTimeout(this.#timer);
      for (const req of [...this.#requests.values()]) this.#lose(req, 'the connection to the web server was lost');
    });
    this.#watch();
  }

  /** Since when the connection has carried no request; undefined while one is in progress. */
  get idleSince(): number | undefined {
    return this.#closing || this.#socket.destroyed ? undefined : this.#idleSince;
  }

  /** Closes an idle connection to make room for another (FCGI_MAX_CONNS reached). */
  evict(): void {
    this.#closing = true;
    this.#socket.destroy();
  }

  /** app.close(): finish what runs, refuse what comes, close when idle; resolves once closed. */
  drain(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.#socket.closed ? resolve() : this.#socket.once('close', () => resolve())));
    this.#draining = true;
    this.#closeWhenIdle = true;
    this.#closeIfIdle();
    return closed;
  }

  #receive(chunk: Buffer): void {
    if (this.#closing) return; // read and dropped, so that closing does not reset the connection
    try {
      this.#parser.feed(chunk, this.#onRecord);
    } catch (error) {
      this.#settings.log(`${(error as Error).message}; closing the connection`);
      this.#socket.destroy();
    }
    this.#watch();
  }

  /**
   * Arms the connection's one timer where a limit applies: PARAMS still arriving
   * (paramsTimeoutMs after their BEGIN_REQUEST), or no request at all (idleTimeoutMs). Checked
   * when it fires rather than re-armed per request, so a busy connection costs no timer calls.
   */
  #watch(): void {
    if (this.#closing || this.#socket.destroyed) return;
    const { paramsTimeoutMs, idleTimeoutMs } = this.#settings;
    let due: number | undefined;
    if (this.#awaitingParams > 0) {
      for (const req of this.#requests.values()) if (req.params) due = Math.min(due ?? Infinity, req.begunAt + paramsTimeoutMs);
    } else if (this.#idleSince !== undefined && idleTimeoutMs > 0) {
      due = this.#idleSince + idleTimeoutMs;
    }
    // An armed timer that fires no later serves: #expire() looks again then.
    if (due === undefined || (this.#timer && this.#timerDue <= due)) return;
    clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#expire();
      },
      Math.max(0, due - Date.now()),
    ).unref();
  }

  /** The timer fired: close the connection if a limit has passed, else watch on. */
  #expire(): void {
    if (this.#closing || this.#socket.destroyed) return;
    const now = Date.now();
    const { paramsTimeoutMs, idleTimeoutMs } = this.#settings;
    for (const req of this.#requests.values()) {
      if (req.params && now - req.begunAt >= paramsTimeoutMs) {
        // Nothing ran yet for it; the web server is too slow to be one, or is not one.
        this.#settings.log(`fastcgi: request ${req.id}'s PARAMS did not end within ${paramsTimeoutMs / 1000} s of its BEGIN_REQUEST; closing the connection`);
        this.#socket.destroy();
        return;
      }
    }
    if (this.#requests.size === 0 && this.#idleSince !== undefined && idleTimeoutMs > 0 && now - this.#idleSince >= idleTimeoutMs) {
      this.#closeWhenIdle = true;
      this.#closeIfIdle();
      return;
    }
    this.#watch();
  }

  #onRecord = (r: FcgiRecord): void => {
    if (this.#closing || this.#socket.destroyed) return; // the records after a close are dropped
    this.#settings.onRecord?.(r, 'recv');
    this.#handle(r);
  };

  #handle(r: FcgiRecord): void {
    if (r.requestId === NULL_REQUEST_ID) return this.#management(r);
    const req = this.#requests.get(r.requestId);
    if (r.type === RecordType.BEGIN_REQUEST) {
      if (req) throw new FastCgiError(`fastcgi: BEGIN_REQUEST for request ${r.requestId}, which is already active`);
      return this.#begin(r);
    }
    if (!req) return; // §3.3: records of an inactive request id are ignored
    switch (r.type) {
      case RecordType.PARAMS:
        if (!req.params) throw new FastCgiError(`fastcgi: PARAMS after the end of request ${req.id}'s PARAMS stream`);
        if (r.content.length > 0) return req.params.push(r.content);
        return this.#start(req, req.params.end());
      case RecordType.STDIN:
        return this.#input(req, req.stdin, r);
      case RecordType.DATA:
        if (!req.data) throw new FastCgiError(`fastcgi: DATA for request ${req.id}, which is not a FILTER`);
        return this.#input(req, req.data, r);
      case RecordType.ABORT_REQUEST:
        return this.#abort(req);
      default:
        throw new FastCgiError(`fastcgi: unexpected ${nameOf(RecordType, r.type)} record for request ${req.id}`);
    }
  }

  /** §4: answered by the library, never by the handler. */
  #management(r: FcgiRecord): void {
    if (r.type !== RecordType.GET_VALUES) {
      this.#writer.send([record(RecordType.UNKNOWN_TYPE, NULL_REQUEST_ID, encodeUnknownTypeBody(r.type))]);
      return;
    }
    const known = new Map<string, string>([
      [ValueName.MAX_CONNS, String(this.#settings.maxConns)],
      [ValueName.MAX_REQS, String(this.#settings.maxReqs)],
      [ValueName.MPXS_CONNS, this.#settings.multiplex ? '1' : '0'],
      [PID_VALUE, String(process.pid)],
    ]);
    // §4.1: the names asked for, in their order; a name we do not know is left out.
    const answer = decodeParams(r.content).flatMap(([name]): Pair[] => {
      const value = known.get(name);
      return value === undefined ? [] : [[name, value]];
    });
    this.#writer.send([record(RecordType.GET_VALUES_RESULT, NULL_REQUEST_ID, encodeParams(answer))]);
  }

  #begin(r: FcgiRecord): void {
    const { role, flags } = decodeBeginRequestBody(r.content);
    const keepConn = (flags & Flags.KEEP_CONN) !== 0;
    const refusal =
      role !== Role.RESPONDER && role !== Role.AUTHORIZER && role !== Role.FILTER
        ? ProtocolStatus.UNKNOWN_ROLE
        : !this.#settings.multiplex && this.#requests.size > 0
          ? ProtocolStatus.CANT_MPX_CONN
          : this.#draining || this.#counts.requests >= this.#settings.maxReqs
            ? ProtocolStatus.OVERLOADED
            : undefined;
    if (refusal !== undefined) {
      this.#writer.send([record(RecordType.END_REQUEST, r.requestId, encodeEndRequestBody(0, refusal))]);
      if (!keepConn) this.#closeWhenIdle = this.#peerSendsNoMore = true;
      return this.#closeIfIdle();
    }
    const input = (): Input => ({
      stream: new Readable({ highWaterMark: 64 * 1024, read: () => this.#unpause(r.requestId) }),
      ended: false,
    });
    this.#counts.requests++;
    this.#awaitingParams++;
    this.#idleSince = undefined;
    this.#requests.set(r.requestId, {
      id: r.requestId,
      role: role as Role,
      keepConn,
      params: new ParamsCollector(this.#settings.maxParamsBytes),
      stdin: input(),
      data: role === Role.FILTER ? input() : undefined,
      controller: undefined,
      stopped: undefined,
      begunAt: Date.now(),
      started: false,
      aborted: false,
      finished: false,
      opened: 0,
      closed: 0,
    });
  }

  #input(req: Active, input: Input, r: FcgiRecord): void {
    if (req.params) throw new FastCgiError(`fastcgi: ${nameOf(RecordType, r.type)} before the end of request ${req.id}'s PARAMS`);
    if (input.ended) throw new FastCgiError(`fastcgi: ${nameOf(RecordType, r.type)} after the end of request ${req.id}'s ${nameOf(RecordType, r.type)} stream`);
    if (input.stream.destroyed) return; // aborted: the rest of the body is dropped
    if (r.content.length === 0) {
      input.ended = true;
      input.stream.push(null);
    } else if (!input.stream.push(r.content)) {
      // The handler reads slower than the web server sends: stop reading the connection
      // (every request on it waits: FastCGI multiplexing has no per-request flow control).
      this.#pausedFor.add(req.id);
      this.#socket.pause();
    }
  }

  /** The PARAMS stream has ended: the request runs while STDIN still arrives (§6.2). */
  #start(req: Active, pairs: Pair[]): void {
    req.params = undefined;
    this.#awaitingParams--;
    req.started = true;
    // A plain object keeps V8's fast properties (a null-prototype one is a dictionary from the
    // start, measured slower to fill and to copy); __proto__ alone needs defining as data.
    const params: Record<string, string> = {};
    for (const [name, value] of pairs) {
      if (name === '__proto__') Object.defineProperty(params, name, { value, writable: true, enumerable: true, configurable: true });
      else params[name] = value;
    }
    void this.#run(req, new RequestForHandler(req, params));
  }

  async #run(req: Active, request: AppRequest): Promise<void> {
    try {
      const response = await this.#handler(request);
      if ('output' in response) {
        // Whole: its records, the closing STDOUT and END_REQUEST (#finish) leave in one write.
        if (!req.aborted && !req.finished && response.output.length > 0) this.#writer.send(streamRecords(RecordType.STDOUT, req.id, response.output, false));
        return this.#finish(req, response.appStatus);
      }
      const sources = response.stderr ? [response.stdout, response.stderr] : [response.stdout];
      const output = Promise.all(sources.map((s, i) => this.#pump(req, s, i === 0 ? RecordType.STDOUT : RecordType.STDERR)));
      output.catch(() => {}); // awaited below, unless the request was aborted
      const appStatus = await response.finished;
      // Every byte of output goes out before END_REQUEST. After an abort none is wanted, and
      // a handler that has finished without ending its output must not hold the request.
      if (req.aborted) for (const source of sources) source.destroy();
      else await output;
      this.#finish(req, appStatus);
    } catch (error) {
      this.#finish(req, 1, error);
    }
  }

  /** Copies one output stream into records, then closes it (§6.1). */
  async #pump(req: Active, source: Readable, type: number): Promise<void> {
    const read = await this.#writer.copy(source, type, req.id, () => !req.finished && !req.aborted);
    if (read > 0) req.opened |= outputBit(type); // (bytes dropped after the request ended count too, and then it returns below)
    // §6.1: STDOUT is always closed, even when empty; STDERR only if it was used.
    if (req.finished || req.aborted || (type === RecordType.STDERR && !(req.opened & STDERR_BIT))) return;
    this.#writer.send([record(type, req.id)]);
    req.closed |= outputBit(type);
  }

  #abort(req: Active): void {
    if (!req.started) return this.#finish(req, 0); // nothing ran yet: answer at once
    req.aborted = true;
    this.#stop(req, new FastCgiError(`fastcgi: request ${req.id} aborted by the web server`));
    this.#dropInput(req);
  }

  /** Sends END_REQUEST, with whatever closing records are missing, and retires the request. */
  #finish(req: Active, appStatus: number, failure?: unknown): void {
    if (req.finished) return;
    req.finished = true;
    this.#counts.requests--;
    if (req.params) this.#awaitingParams--;
    this.#requests.delete(req.id);
    if (this.#requests.size === 0) {
      this.#idleSince = Date.now();
      this.#watch();
    }
    if (req.params || !req.stdin.ended || (req.data && !req.data.ended)) this.#inputPending = true;
    this.#dropInput(req);
    const records: FcgiRecord[] = [];
    const stderrOpen = !(req.closed & STDERR_BIT);
    if (failure !== undefined && !req.aborted) {
      const message = `fastcgi: request ${req.id} failed: ${failure instanceof Error ? failure.message : String(failure)}`;
      this.#settings.log(message);
      if (stderrOpen) records.push(...streamRecords(RecordType.STDERR, req.id, Buffer.from(`${message}\n`)));
    } else if (req.opened & STDERR_BIT && stderrOpen) {
      records.push(record(RecordType.STDERR, req.id));
    }
    if (!req.aborted && !(req.closed & STDOUT_BIT)) records.push(record(RecordType.STDOUT, req.id));
    records.push(record(RecordType.END_REQUEST, req.id, encodeEndRequestBody(appStatus, ProtocolStatus.REQUEST_COMPLETE)));
    this.#writer.send(records);
    if (!req.keepConn) this.#closeWhenIdle = this.#peerSendsNoMore = true;
    this.#closeIfIdle();
  }

  /** Fires the request's signal, or has it fire as soon as it is asked for. */
  #stop(req: Active, reason: Error): void {
    req.stopped = reason;
    req.controller?.abort(reason);
  }

  #dropInput(req: Active): void {
    req.stdin.stream.destroy();
    req.data?.stream.destroy();
    this.#unpause(req.id);
  }

  #unpause(id: number): void {
    if (this.#pausedFor.delete(id) && this.#pausedFor.size === 0) this.#socket.resume();
  }

  #closeIfIdle(): void {
    if (!this.#closeWhenIdle || this.#requests.size > 0 || this.#closing || this.#socket.destroyed) return;
    this.#closing = true;
    this.#writer.flush();
    if (this.#peerSendsNoMore && !this.#inputPending) {
      // The peer has sent all it had to send: nothing can arrive to reset the connection under
      // the answer, so it is closed once written, without waiting for the peer to close too
      // (nginx closes a connection per request: that wait was an event and a timer each). A
      // kept connection we close ourselves (draining, idle) may have a request on its way: it
      // lingers below, so that the request is refused (OVERLOADED) and sent again elsewhere.
      this.#socket.destroySoon();
      return;
    }
    this.#socket.end();
    this.#socket.resume(); // keep reading (and dropping) until the peer closes too
    // nginx without keepalive closes a connection per request: thousands a second, so the timer
    // goes when the socket does, rather than holding every closed connection for LINGER_MS.
    const linger = setTimeout(() => this.#socket.destroy(), LINGER_MS).unref();
    this.#socket.once('close', () => clearTimeout(linger));
  }

  /** The web server closed its side: requests still waiting for input can never finish. */
  #peerEnded(): void {
    try {
      if (!this.#closing) this.#parser.end(); // once closing, input is dropped unparsed
    } catch (error) {
      this.#settings.log((error as Error).message);
    }
    for (const req of [...this.#requests.values()])
      if (req.params || !req.stdin.ended || (req.data && !req.data.ended)) this.#lose(req, 'the web server closed the connection');
    this.#closeWhenIdle = this.#peerSendsNoMore = true;
    this.#closeIfIdle();
  }

  #lose(req: Active, why: string): void {
    if (req.aborted) return;
    req.aborted = true;
    this.#stop(req, new FastCgiError(`fastcgi: request ${req.id}: ${why}`));
    this.#dropInput(req);
    if (!req.started) this.#finish(req, 0);
  }
}

/** What the handler is given: its signal made on first use (a whole response never asks). */
class RequestForHandler implements AppRequest {
  readonly id: number;
  readonly role: Role;
  readonly keepConn: boolean;
  readonly params: Record<string, string>;
  readonly stdin: Readable;
  readonly data: Readable | undefined;
  readonly #req: Active;

  constructor(req: Active, params: Record<string, string>) {
    this.id = req.id;
    this.role = req.role;
    this.keepConn = req.keepConn;
    this.params = params;
    this.stdin = req.stdin.stream;
    this.data = req.data?.stream;
    this.#req = req;
  }

  get signal(): AbortSignal {
    const req = this.#req;
    req.controller ??= new AbortController();
    if (req.stopped && !req.controller.signal.aborted) req.controller.abort(req.stopped);
    return req.controller.signal;
  }
}
