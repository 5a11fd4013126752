/**
 * The live view's event bus: every request and every process this server process knows of, as
 * it starts and ends. The HTTP front reports requests (where the access log is written, so every
 * path through the server is counted), the runners and the modes report the processes they start
 * and reap. /webhist/events (src/server/event-stream.ts) streams it to a browser; /webhist/status
 * shows its counters and its process table.
 *
 * One bus per process, because processes are what it describes: a program runner that spawns a
 * CGI child calls `processStarted` without knowing which server it serves. Counters and the
 * process table are kept always (a few integer and Map operations per request); events are only
 * built while someone listens, so a server nobody watches pays almost nothing (measured:
 * docs/status.md, "What a viewer costs").
 */
import { RequestCut } from './mode.ts';

/** What a process is to this server: itself, a program for one request, a pool's worker, a pool's manager, a peer server process. */
export type ProcessKind = 'server' | 'cgi' | 'worker' | 'manager' | 'peer';

/** How a request ended, as the timeline colours it. */
type Outcome = '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'client-gone' | 'cut';

export type LiveEvent =
  /** A request arrived. */
  | { type: 'request-start'; id: number; t: number; method: string; target: string }
  /** The process serving it is known (at once under CGI and embedded; under FastCGI once a worker accepted it). */
  | { type: 'request-assigned'; id: number; t: number; pid: number }
  /** Its response closed: the pid that served it, its status, how it ended. */
  | { type: 'request-end'; id: number; t: number; startedAt: number; target: string; pid: number; status: number; outcome: Outcome }
  | { type: 'process-start'; t: number; pid: number; kind: ProcessKind; script?: string; about?: string }
  /** `status`: the exit code, or the signal that killed it. */
  | { type: 'process-exit'; t: number; pid: number; kind: ProcessKind; status: number | string };

/** A process the server knows is alive, with what it is doing. */
export interface LiveProcess {
  pid: number;
  kind: ProcessKind;
  /** The script it was started for (a CGI program). */
  script?: string;
  /** What else names it: the pool a manager or worker belongs to. */
  about?: string;
  startedAt: number;
  /** Requests it finished. */
  served: number;
  /** The scripts (or paths) of the requests it serves now. */
  current: string[];
}

/**
 * A request in flight, as the live view follows it: the front holds it from arrival to end and
 * hands it to whatever runs the request's script. `run` is that run once the gateway started one.
 */
export interface LiveRequest {
  id: number;
  startedAt: number;
  target: string;
  pid?: number;
  run?: { readonly pid?: number };
  signal?: AbortSignal;
  script?: string;
}

type Listener = (event: LiveEvent) => void;

const listeners = new Set<Listener>();
/** While someone listens: looks for FastCGI requests whose worker became known. */
let assignments: NodeJS.Timeout | undefined;
const processes = new Map<number, LiveProcess>();
/** By id: a small integer key costs nothing to hash, as an IncomingMessage would. */
const inFlight = new Map<number, LiveRequest>();
let nextId = 1;
/** Since this process started. */
export const totals = { requests: 0, served: 0, processesStarted: 0, processesExited: 0 };

function emit(event: LiveEvent): void {
  for (const listener of listeners) listener(event);
}

/** Listens to every event from now on; returns the way to stop. */
export function watchEvents(listener: Listener): () => void {
  listeners.add(listener);
  if (listeners.size === 1) assignments = setInterval(checkAssignments, 100).unref();
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) clearInterval(assignments);
  };
}

// ── processes ──────────────────────────────────────────────────────────────────────────────────

/** A process started: a CGI program, a worker, a server process. */
export function processStarted({ pid, kind, script, about }: { pid: number; kind: ProcessKind; script?: string; about?: string }): void {
  // The server itself is not counted: this is how many processes serving cost.
  if (kind !== 'server') totals.processesStarted++;
  processes.set(pid, { pid, kind, ...(script ? { script } : {}), ...(about ? { about } : {}), startedAt: Date.now(), served: 0, current: [] });
  if (listeners.size) emit({ type: 'process-start', t: Date.now(), pid, kind, ...(script ? { script } : {}), ...(about ? { about } : {}) });
}

/** A process ended; `status` is its exit code or the signal that killed it. */
export function processExited({ pid, status }: { pid: number; status: number | string }): void {
  const known = processes.get(pid);
  if (!known) return;
  if (known.kind !== 'server') totals.processesExited++;
  processes.delete(pid);
  if (listeners.size) emit({ type: 'process-exit', t: Date.now(), pid, kind: known.kind, status });
}

/** The server's own process, once: it serves static files and the status page, and under embedded mode every script. */
export function serverProcessStarted(): void {
  if (processes.get(process.pid)?.kind !== 'server') processStarted({ pid: process.pid, kind: 'server' });
}

/** Every process alive now that this server started or is. */
export function liveProcesses(): LiveProcess[] {
  return [...processes.values()];
}

// ── requests ───────────────────────────────────────────────────────────────────────────────────

/** A request arrived at the front: the record to pass on until it ends. */
export function requestArrived(method: string, target: string, startedAt = Date.now()): LiveRequest {
  const request: LiveRequest = { id: nextId++, startedAt, target };
  totals.requests++;
  inFlight.set(request.id, request);
  if (listeners.size) emit({ type: 'request-start', id: request.id, t: startedAt, method, target });
  return request;
}

/**
 * The gateway started a script for it: `run.pid` names the process serving it, now or later
 * (a FastCGI request waits for a worker to accept it), and `signal` says if it was stopped.
 */
export function requestRuns(request: LiveRequest | undefined, script: string, run: { readonly pid?: number }, signal?: AbortSignal): void {
  // A request whose response has already closed (its client left while its script started) is
  // not in flight: recorded now, its script would stay on its process's list for good.
  if (!request || !inFlight.has(request.id)) return;
  request.run = run;
  request.signal = signal;
  request.script = script;
  assign(request);
}

function assign(request: LiveRequest): void {
  const pid = request.run?.pid;
  if (pid === undefined || request.pid !== undefined) return;
  request.pid = pid;
  processes.get(pid)?.current.push(request.script ?? request.target);
  if (listeners.size) emit({ type: 'request-assigned', id: request.id, t: Date.now(), pid });
}

/** FastCGI learns its worker's pid asynchronously: looked for while someone watches. */
function checkAssignments(): void {
  for (const request of inFlight.values()) if (request.run && request.pid === undefined) assign(request);
}

/** The response closed. `finished`: the whole response was sent (not cut, nor left by the client). */
export function requestEnded(request: LiveRequest | undefined, status: number, finished: boolean): void {
  if (!request || !inFlight.delete(request.id)) return;
  totals.served++;
  assign(request);
  // What served it: the process that ran its script, or this one (static files, the status page).
  const pid = request.pid ?? process.pid;
  const serving = processes.get(pid);
  if (serving) {
    serving.served++;
    const at = request.pid === undefined ? -1 : serving.current.indexOf(request.script ?? request.target);
    if (at >= 0) serving.current.splice(at, 1);
  }
  if (!listeners.size) return;
  const { id, startedAt, target } = request;
  const t = Date.now();
  // The gateway hears the same 'close' after the front does, and only then stops the script as
  // client-gone: the outcome is read once that has happened.
  queueMicrotask(() => emit({ type: 'request-end', id, t, startedAt, target, pid, status, outcome: outcomeOf(status, finished, request.signal) }));
}

function outcomeOf(status: number, finished: boolean, signal: AbortSignal | undefined): Outcome {
  const cut = signal?.reason;
  if (cut instanceof RequestCut && (cut.why === 'timeout' || cut.why === 'client-gone')) return cut.why;
  if (!finished) return 'cut';
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  return status >= 300 ? '3xx' : '2xx';
}

/** Requests in flight now, and how many of them wait for a process to take them (queued). */
export function requestsNow(): { inFlight: number; queued: number; requests: Array<{ id: number; startedAt: number; target: string; pid?: number }> } {
  let queued = 0;
  const requests = [];
  for (const { id, startedAt, target, pid, run } of inFlight.values()) {
    if (run && pid === undefined) queued++;
    requests.push({ id, startedAt, target, ...(pid === undefined ? {} : { pid }) });
  }
  return { inFlight: inFlight.size, queued, requests };
}
