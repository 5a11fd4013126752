/**
 * The web-server side of FastCGI: what nginx's fastcgi_pass does. It opens (or reuses)
 * a connection to an application, sends BEGIN_REQUEST, the PARAMS stream and the STDIN stream
 * (§5), and hands back STDOUT as a stream, STDERR line by line and END_REQUEST as a promise.
 *
 * Connections are kept with FCGI_KEEP_CONN and reused, a few idle ones per client. The
 * application is asked FCGI_GET_VALUES once, on a connection of its own (php-fpm answers the
 * query, then closes the connection it came on), and requests share a connection only if it
 * answered FCGI_MPXS_CONNS=1 (§4.1): then `spread` connections (one per worker of a pool) carry
 * every request in flight, their records interleaved. Until then, and otherwise, each request
 * in flight has a connection to itself, as with nginx, which never multiplexes. With `askPid`, every new
 * connection also opens with a query of its own, for the pid of the process that accepted it.
 *
 * When the caller's signal fires, ABORT_REQUEST goes out (§5.4) and the request id stays
 * reserved until the application's END_REQUEST, so a late record cannot be taken for the next
 * request's. A connection that dies mid-request fails that request with a FastCgiError.
 */
import { createConnection } from 'node:net';
import type { Readable } from 'node:stream';
import { type Address, formatAddress, netOptions, parseAddress } from './address.ts';
import { FastCgiError, Flags, NULL_REQUEST_ID, ProtocolStatus, RecordType, Role, ValueName } from './protocol.ts';
import { encodeBeginRequestBody, record, streamRecords, type FcgiRecord } from './records.ts';
import { type Pair, decodeParams, encodeParams } from './params.ts';
import { ClientConnection, type ConnectionHooks, type EndRequest, type Attempt } from './client-connection.ts';
import { ClientStdout } from './client-stdout.ts';
import type { TraceRecord } from './trace.ts';

export interface ClientRequest {
  /** The CGI meta-variables, sent on the PARAMS stream. */
  params: Record<string, string> | Iterable<Pair>;
  /** Default RESPONDER. */
  role?: Role;
  /** The request body (STDIN), read with backpressure. Default: empty. */
  stdin?: Readable | Buffer;
  /** FILTER only: the file to filter (FCGI_DATA), sent after STDIN. */
  data?: Readable | Buffer;
  /** When it fires: ABORT_REQUEST, and `ended` rejects with its reason. */
  signal?: AbortSignal;
  /** Each line the application writes on STDERR, without its newline. */
  onStderr?: (line: string) => void;
}

export interface ClientResponse {
  /**
   * The STDOUT stream: CGI response headers, blank line, body. Ends at END_REQUEST. Made when
   * first asked for; until then the records are kept (client-stdout.ts).
   */
  readonly stdout: Readable;
  /** Resolves on END_REQUEST; rejects if the connection fails first or the caller aborts. */
  ended: Promise<EndRequest>;
  /**
   * All of STDOUT in one buffer, if the request completes (status 0) before anyone takes
   * `stdout`, having printed at most 64 KiB; undefined as soon as that cannot be, or once
   * giveUpWhole() is called. `stdout`, taken after, still starts at the first byte.
   */
  whole(): Promise<Buffer | undefined>;
  giveUpWhole(): void;
  /** ABORT_REQUEST when this signal fires (as `signal` of the request, for a signal known only later). */
  stopOn(signal: AbortSignal): void;
  /** The pid of the application process serving the request, once it has said (`askPid`). */
  readonly appPid: number | undefined;
  /**
   * Resolves once the request's id is free again: true when the application sent END_REQUEST
   * (after an abort, that is its answer to ABORT_REQUEST, §5.4), false when the connection went
   * first or `withinMs` passed without it.
   */
  released(withinMs: number): Promise<boolean>;
}

/** What the application answered to FCGI_GET_VALUES; a number it did not give is absent. */
export interface AppValues {
  maxConns?: number;
  maxReqs?: number;
  multiplex: boolean;
}

export interface ClientOptions {
  /** Ask the application to keep connections open for reuse. Default true. */
  keepConn?: boolean;
  /** Idle connections kept open. Default 8. */
  maxIdle?: number;
  /**
   * Where the application multiplexes (FCGI_MPXS_CONNS=1): how many connections share the
   * requests in flight, a new one opened only while there are fewer. A pool of N workers wants
   * N, one per worker (the kernel picks the worker for each connection). Default 1.
   */
  spread?: number;
  /** After ABORT_REQUEST, how long to wait for END_REQUEST before giving up on the connection. */
  abortGraceMs?: number;
  /** How long to wait for the answer to GET_VALUES before assuming no multiplexing. */
  probeTimeoutMs?: number;
  /**
   * Ask each new connection's application for its pid (PID_VALUE), as webhist's pool does of
   * its own workers. Only for applications known to answer GET_VALUES at once: libfcgi, asked
   * on a request's connection, answers only at the end of its input. Default false.
   */
  askPid?: boolean;
  /** Sees every record sent and received: `--trace`. */
  onRecord?: TraceRecord;
}

type Settings = Required<Omit<ClientOptions, 'onRecord'>> & Pick<ClientOptions, 'onRecord'>;
type Input = [type: RecordType, input: Readable | Buffer];

/** RFC 9110 §9.2.1: methods a retry cannot harm. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const EMPTY = Buffer.alloc(0);

export class FastCgiClient {
  readonly address: Address;
  #settings: Settings;
  #connections = new Set<ClientConnection>();
  #values: Promise<AppValues> | undefined;
  #multiplex = false;
  #maxReqs = Infinity;
  #closed = false;

  constructor(address: Address | string, options: ClientOptions = {}) {
    this.address = typeof address === 'string' ? parseAddress(address) : address;
    this.#settings = {
      keepConn: options.keepConn ?? true,
      maxIdle: options.maxIdle ?? 8,
      spread: options.spread ?? 1,
      abortGraceMs: options.abortGraceMs ?? 10_000,
      probeTimeoutMs: options.probeTimeoutMs ?? 2000,
      askPid: options.askPid ?? false,
      onRecord: options.onRecord,
    };
  }

  /** FCGI_GET_VALUES, asked once (and again only after the application could not be reached). */
  values(): Promise<AppValues> {
    this.#values ??= this.#askValues().then(
      (values) => {
        this.#multiplex = values.multiplex;
        this.#maxReqs = values.maxReqs ?? Infinity;
        return values;
      },
      (error: unknown) => {
        this.#values = undefined;
        throw error;
      },
    );
    return this.#values;
  }

  request(request: ClientRequest): ClientResponse {
    if (this.#closed) throw new FastCgiError('fastcgi: the client is closed');
    if (!this.#values) this.values().catch(() => {}); // an unreachable application is reported by the request itself
    const given = request.params;
    const pairs = Symbol.iterator in given ? [...(given as Iterable<Pair>)] : undefined;
    const params = encodeParams(pairs ?? given);
    const method = pairs ? pairs.findLast(([name]) => name === 'REQUEST_METHOD')?.[1] : (given as Record<string, string>).REQUEST_METHOD;
    const safe = SAFE_METHODS.has(method ?? '');
    const role = request.role ?? Role.RESPONDER;
    const inputs: Input[] = [[RecordType.STDIN, request.stdin ?? EMPTY]];
    if (role === Role.FILTER) inputs.push([RecordType.DATA, request.data ?? EMPTY]);

    let current: { connection: ClientConnection; attempt: Attempt } | undefined;
    const stdout = new ClientStdout(() => current?.connection.resume(current.attempt.id));
    let resolve!: (end: EndRequest) => void;
    let reject!: (error: unknown) => void;
    const ended = new Promise<EndRequest>((res, rej) => ((resolve = res), (reject = rej)));
    ended.catch(() => {}); // a caller that only reads stdout must not crash on a rejection
    let settled = false;
    let signal: AbortSignal | undefined;
    const abort = () => current?.connection.abort(current.attempt, signal!.reason, this.#settings.abortGraceMs);
    const settle = () => {
      settled = true;
      signal?.removeEventListener('abort', abort);
    };
    const fail = (error: unknown) => {
      settle();
      stdout.fail(error instanceof Error ? error : new FastCgiError(String(error)));
      reject(error);
    };
    const response: ClientResponse = {
      get stdout() {
        return stdout.stream;
      },
      ended,
      whole: () => stdout.whole(),
      giveUpWhole: () => stdout.giveUpWhole(),
      stopOn(given) {
        if (settled || signal) return;
        signal = given;
        if (given.aborted) abort();
        else given.addEventListener('abort', abort, { once: true });
      },
      get appPid() {
        return current?.connection.appPid;
      },
      released: (withinMs) => (current ? current.connection.released(current.attempt, withinMs) : Promise.resolve(true)),
    };
    if (request.signal?.aborted) {
      fail(request.signal.reason);
      return response;
    }

    // One retry, on a new connection, where it cannot run the request twice: the application
    // refused it (§5.5), or a kept connection closed before a single record answered a safe
    // method. Either way the input must still be in hand.
    const tryRequest = (retried: boolean): void => {
      const connection = this.#pick(retried);
      const attempt = connection.open(stdout, request.onStderr, {
        onEnd: (end) => {
          this.#release(connection);
          const refused = end.protocolStatus === ProtocolStatus.OVERLOADED || end.protocolStatus === ProtocolStatus.CANT_MPX_CONN;
          if (refused && replayable() && stdout.untouched) return tryRequest(true);
          stdout.end(end.protocolStatus === ProtocolStatus.REQUEST_COMPLETE && end.appStatus === 0);
          settle();
          resolve(end);
        },
        onFail: (error) => {
          this.#release(connection);
          if (attempt.unanswered && safe && replayable() && !signal?.aborted) return tryRequest(true);
          fail(error);
        },
      });
      current = { connection, attempt };
      const flags = this.#settings.keepConn ? Flags.KEEP_CONN : 0;
      const records = [
        record(RecordType.BEGIN_REQUEST, attempt.id, encodeBeginRequestBody(role, flags)),
        ...streamRecords(RecordType.PARAMS, attempt.id, params),
      ];
      let piped = 0; // input already in memory joins BEGIN_REQUEST and PARAMS in one write
      for (let input = inputs[0]; input && Buffer.isBuffer(input[1]); input = inputs[++piped]) records.push(...streamRecords(input[0], attempt.id, input[1]));
      connection.send(records);
      if (piped < inputs.length) void this.#pipe(connection, attempt, inputs, piped);
      function replayable() {
        return !retried && inputs.every(([, input]) => Buffer.isBuffer(input));
      }
    };
    tryRequest(false);
    if (request.signal) response.stopOn(request.signal);
    return response;
  }

  /** Closes every connection; requests still running fail. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#connections].map((c) => c.close('the client was closed')));
  }

  /**
   * A connection for one more request: an idle one; where the application multiplexes, the
   * least busy of `spread` shared ones; or a new one.
   */
  #pick(fresh: boolean): ClientConnection {
    let shared: ClientConnection | undefined;
    let open = 0;
    for (const c of fresh ? [] : this.#connections) {
      if (!c.reusable) continue;
      open++;
      if (c.inFlight === 0) return c.use();
      if (this.#multiplex && c.inFlight < this.#maxReqs && (!shared || c.inFlight < shared.inFlight)) shared = c;
    }
    if (shared && open >= this.#settings.spread) return shared;
    const connection = this.#connect({ askPid: this.#settings.askPid });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
    return connection;
  }

  #connect(hooks: Omit<ConnectionHooks, 'onRecord'> = {}): ClientConnection {
    const socket = createConnection({ ...netOptions(this.address), noDelay: true });
    return new ClientConnection(socket, formatAddress(this.address), { ...hooks, onRecord: this.#settings.onRecord });
  }

  /**
   * Sends the input streams from `from` on, one after the other, with backpressure. A stream
   * that turns out empty is replaced by an empty buffer, so that a retry can send it again.
   */
  async #pipe(connection: ClientConnection, attempt: Attempt, inputs: Input[], from: number): Promise<void> {
    try {
      for (let i = from; i < inputs.length; i++) {
        const [type, input] = inputs[i]!;
        if (Buffer.isBuffer(input)) {
          if (attempt.inputOpen) connection.send(streamRecords(type, attempt.id, input));
          continue;
        }
        const read = await connection.copy(input, type, attempt.id, () => attempt.inputOpen);
        if (read === 0) inputs[i] = [type, EMPTY];
        if (!attempt.inputOpen) return; // ended or aborted: nothing more may go out on its id
        connection.send([record(type, attempt.id)]);
      }
    } catch (error) {
      // The body broke off (the HTTP client went away mid-upload, say): abort the request.
      connection.abort(attempt, error, this.#settings.abortGraceMs);
    }
  }

  /**
   * After a request: keep the connection for the next one, or let it go. Where requests are
   * multiplexed, `spread` connections are all there is to keep; otherwise `maxIdle` idle ones.
   */
  #release(connection: ClientConnection): void {
    if (connection.inFlight > 0) return;
    let idle = 0;
    let open = 0;
    for (const c of this.#connections) if (c.reusable) open++, c.inFlight === 0 && idle++;
    const surplus = this.#multiplex ? open > this.#settings.spread : idle > this.#settings.maxIdle;
    if (this.#closed || !this.#settings.keepConn || !connection.reusable || surplus) void connection.close();
    else connection.idle();
  }

  async #askValues(): Promise<AppValues> {
    let resolve!: (answer: FcgiRecord | undefined) => void;
    const promise = new Promise<FcgiRecord | undefined>((r) => (resolve = r));
    const connection = this.#connect({ onManagement: (r) => r.type === RecordType.GET_VALUES_RESULT && resolve(r) });
    const query = encodeParams(Object.values(ValueName).map((name): Pair => [name, '']));
    connection.send([record(RecordType.GET_VALUES, NULL_REQUEST_ID, query)]);
    // The query is the whole conversation, so say so: libfcgi reads on, blocking, until the
    // connection ends and only then answers (or not), holding a one-process app meanwhile.
    connection.endSending();
    const timer = setTimeout(resolve, this.#settings.probeTimeoutMs, undefined);
    void connection.closed.then(() => resolve(undefined));
    const answer = await promise;
    clearTimeout(timer);
    const { connected, error } = await connection.close();
    if (!connected) throw new FastCgiError(`fastcgi: cannot connect to ${formatAddress(this.address)}: ${error?.message ?? 'closed'}`);
    // No answer (an application that ignores GET_VALUES): assume the least, no multiplexing.
    const values = new Map(answer ? decodeParams(answer.content) : []);
    const number = (name: string) => (values.has(name) ? Number(values.get(name)) : undefined);
    return {
      maxConns: number(ValueName.MAX_CONNS),
      maxReqs: number(ValueName.MAX_REQS),
      multiplex: values.get(ValueName.MPXS_CONNS) === '1',
    };
  }
}
