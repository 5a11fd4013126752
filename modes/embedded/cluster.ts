/**
 * `--processes N` for embedded mode: N server processes sharing one port (node:cluster), the way
 * Apache prefork ran mod_perl and mod_php. A script that blocks one process's event loop, or
 * crashes it, takes one process out of N, not the server: a supervisor (the cluster primary, in
 * Apache's place the parent httpd) replaces it while the others keep serving.
 *
 * A process proves it is alive by a heartbeat over the cluster's IPC channel, sent from its main
 * thread, so a blocked event loop goes quiet. Quiet for longer than the request time limit
 * (--timeout) means it has overrun every request it holds, and killing the process is the only
 * way left to stop a synchronous loop, so it is killed (SIGKILL: a stuck loop never runs a
 * SIGTERM handler) and replaced. The heartbeat carries the process's status, and the supervisor
 * sends everyone's back, so any process can show the whole pool on /webhist/status.
 */
import cluster, { type Worker as ServerProcess } from 'node:cluster';
import { createServer, type AddressInfo } from 'node:net';
import { listen } from '../../src/io/listen.ts';
import type { Logger } from '../../src/server/log.ts';
import type { ProcessStatus } from '../../src/mode.ts';

const heartbeatMs = 500;
/** Fewer missed heartbeats than this are never called stuck, whatever --timeout says. */
const minStuckMs = 4 * heartbeatMs;
/** How long a SIGTERM'd process may take to finish its requests before it is killed. */
const stopGraceMs = 8000;

type Beat = { webhist: 'beat'; status: ProcessStatus };
/** The supervisor's answer: every server process's status, for each one's status page. */
type Roster = { webhist: 'pool'; processes: ProcessStatus[] };

/**
 * In a server process: heartbeats to the supervisor, and the pool's status it sends back.
 * `beat(status)` sends one at once: when a request starts on an idle process, so that a script
 * which then blocks the event loop is known as busy, not as idle from the last heartbeat before it.
 */
export function reportToSupervisor(self: () => ProcessStatus): { peers(): ProcessStatus[]; beat(status: ProcessStatus): void; stop(): void } {
  let pool: ProcessStatus[] = [];
  const onMessage = (message: Roster) => {
    if (message?.webhist === 'pool') pool = message.processes;
  };
  process.on('message', onMessage);
  const beat = (status: ProcessStatus) => {
    if (process.connected) process.send?.({ webhist: 'beat', status } satisfies Beat);
  };
  const timer = setInterval(() => beat(self()), heartbeatMs).unref();
  return {
    peers: () => pool.filter((p) => p.pid !== process.pid),
    beat,
    stop() {
      clearInterval(timer);
      process.off('message', onMessage);
    },
  };
}

export interface SupervisorOptions {
  processes: number;
  /** A process silent for this long is stuck (the request --timeout). */
  stuckAfterMs: number;
  /** Where the pool listens; port 0 picks a free one. */
  host: string;
  port: number;
  logger: Logger;
}

/**
 * The port every process of the pool is told (WEBHIST_POOL_PORT). With --port 0 it is chosen
 * here, once: processes asking node:cluster for port 0 share one only while one of them holds
 * it, so once all had died their replacements would have listened somewhere else.
 */
async function poolPort(host: string, port: number): Promise<number> {
  if (port !== 0) return port;
  const probe = createServer();
  await listen(probe, { host, port: 0 });
  const chosen = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return chosen;
}

interface Member {
  child: ServerProcess;
  pid: number;
  startedAt: number;
  /** When the last heartbeat came; undefined until the process listens. */
  lastBeat?: number;
  status?: ProcessStatus;
  killedAsStuck?: boolean;
}

/**
 * In the primary: forks the pool (each child re-runs this same `webhist serve` command line, and
 * node:cluster makes it a server process), replaces what dies or sticks, and stops it all on
 * SIGINT/SIGTERM. Resolves with the URL once the first process listens.
 */
export async function superviseProcesses({ processes, stuckAfterMs, host, port: requested, logger }: SupervisorOptions): Promise<{ url: string }> {
  const port = String(await poolPort(host, requested));
  const members = new Map<number, Member>();
  const stuckMs = Math.max(stuckAfterMs, minStuckMs);
  let stopping = false;
  let listening = false;

  const fork = () => {
    const child = cluster.fork({ WEBHIST_POOL_PORT: port });
    const member: Member = { child, pid: child.process.pid ?? 0, startedAt: Date.now() };
    members.set(child.id, member);
    child.on('message', (message: Beat) => {
      if (message?.webhist !== 'beat') return;
      member.lastBeat = Date.now();
      member.status = message.status;
      const pool = [...members.values()].flatMap((m) => (m.status ? [m.status] : []));
      if (child.isConnected()) child.send({ webhist: 'pool', processes: pool } satisfies Roster);
    });
    // A peer that vanished mid-send must not take the supervisor down.
    child.on('error', () => {});
    return member;
  };

  const ready = new Promise<{ url: string }>((resolve, reject) => {
    cluster.on('listening', (child, address) => {
      const member = members.get(child.id);
      if (member) member.lastBeat = Date.now();
      if (listening) return;
      listening = true;
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({ url: `http://${shown}:${address.port}/` });
    });
    cluster.on('exit', (child, code, signal) => {
      const member = members.get(child.id);
      members.delete(child.id);
      if (stopping || !member) return;
      if (!listening) {
        // The first processes could not even start (a port in use, say): their error is above.
        stopping = true;
        for (const m of members.values()) m.child.process.kill('SIGKILL');
        return reject(new Error(`a server process exited (${signal ?? `status ${code}`}) before it could listen`));
      }
      const how = member.killedAsStuck ? 'was killed' : `died (${signal ? `killed by ${signal}` : `exit status ${code}`})`;
      // One that dies right after starting would die again: wait a moment rather than fork-loop.
      const soon = Date.now() - member.startedAt < 1000;
      setTimeout(
        () => {
          if (stopping) return;
          const next = fork();
          logger.error('warn', 'supervisor', `process ${member.pid} ${how}: started process ${next.pid} in its place; the others kept serving`);
        },
        soon ? 1000 : 0,
      );
    });
  });

  const watch = setInterval(() => {
    const now = Date.now();
    for (const member of members.values()) {
      if (member.lastBeat === undefined || member.killedAsStuck || now - member.lastBeat < stuckMs) continue;
      member.killedAsStuck = true;
      const script = member.status?.scripts.length ? ` (running ${member.status.scripts.join(', ')} at its last heartbeat)` : '';
      logger.error(
        'error',
        'supervisor',
        `process ${member.pid} has sent no heartbeat for ${((now - member.lastBeat) / 1000).toFixed(1)}s, past --timeout${script}: ` +
          'its event loop is stuck, so it is killed (SIGKILL) and replaced',
      );
      member.child.process.kill('SIGKILL');
    }
  }, heartbeatMs);

  let forced = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C: no more waiting.
      if (!forced) for (const m of members.values()) m.child.process.kill('SIGKILL');
      forced = true;
      return;
    }
    stopping = true;
    clearInterval(watch);
    logger.error('info', 'supervisor', `${signal}: stopping ${members.size} server process(es)`);
    for (const m of members.values()) m.child.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const m of members.values()) {
        logger.error('warn', 'supervisor', `process ${m.pid} did not stop within ${stopGraceMs / 1000}s: killed`);
        m.child.process.kill('SIGKILL');
      }
    }, stopGraceMs);
    const check = setInterval(() => {
      if (members.size > 0) return;
      clearTimeout(killer);
      clearInterval(check);
      process.exit(0);
    }, 50);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  // Every process accepts on the one listening socket, as Apache prefork's children did, so a
  // stuck one simply stops taking connections. node's default (round-robin) has the primary hand
  // each connection to a process and hold it until that process says it took it: one that is
  // stuck never says so, and the connection hangs until its client gives up.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < processes; i++) fork();
  return ready;
}
