/**
 * Driving load from the harness process: autocannon keeps N keep-alive connections busy (one
 * request in flight on each, no pipelining), first for the warm-up, then for the measured
 * window, in one continuous run so connections are not torn down between the two.
 *
 * The window is ours, not autocannon's: responses are counted from its events between two
 * instants we take, so the CPU samples taken at those instants cover exactly the requests
 * counted. Latency goes into our own HDR histogram in microseconds: autocannon's records whole
 * milliseconds, too coarse for a hello that answers in 300 µs.
 */
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { setTimeout as sleep } from 'node:timers/promises';

interface Latency {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadWindow {
  seconds: number;
  /** Responses completed in the window, of any status. */
  responses: number;
  ok2xx: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Requests that got no response: connection errors and timeouts. */
  errors: number;
  timeouts: number;
  bytes: number;
  /** Over every response in the window, in milliseconds. */
  latencyMs: Latency;
  /** The whole histogram (microseconds), HdrHistogram's compressed base64 form, for re-analysis. */
  histogram: string;
  /** CPU of the whole harness process (load generator and /proc sampler thread), in cores: 1 is one core flat out. */
  processCpuCores: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Called as the measured window opens and closes, e.g. to sample the server's CPU. */
  atWindowStart?: () => Promise<unknown>;
  atWindowEnd?: () => Promise<unknown>;
  /** Called about every 250 ms with the window's progress, for a progress line. */
  onProgress?: (phase: 'warmup' | 'measure', elapsedMs: number, responses: number) => void;
}

export async function driveLoad(options: LoadOptions): Promise<LoadWindow> {
  // 1 µs to a minute (requests time out after 30 s), three significant digits.
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
  const counts = { responses: 0, ok2xx: 0, errors: 0, timeouts: 0, bytes: 0, statusCodes: {} as Record<string, number> };
  let counting = false;

  let settle!: (error: Error | null) => void;
  const finished = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
  // Ends only when we stop it, so an early end (a bad URL, say) is an error.
  const stoppedEarly = finished.then(() => {
    throw new Error('bench: autocannon stopped before the measured window ended');
  });
  stoppedEarly.catch(() => {});
  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections,
      pipelining: 1,
      duration: (options.warmupMs + options.durationMs) / 1000 + 60, // an upper bound: we stop it
      timeout: 30,
      sampleInt: 200,
    },
    (error) => settle(error),
  );
  instance.on('response', (_client: unknown, status: number, bytes: number, ms: number) => {
    if (!counting) return;
    counts.responses++;
    if (status >= 200 && status < 300) counts.ok2xx++;
    counts.statusCodes[status] = (counts.statusCodes[status] ?? 0) + 1;
    counts.bytes += bytes;
    histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  });
  instance.on('reqError', (error: Error) => {
    if (!counting) return;
    counts.errors++;
    if (/timed out/.test(error.message)) counts.timeouts++;
  });

  let phaseStart = performance.now();
  const ticker = setInterval(() => options.onProgress?.(counting ? 'measure' : 'warmup', performance.now() - phaseStart, counts.responses), 250);
  try {
    await Promise.race([sleep(options.warmupMs), stoppedEarly]);
    await options.atWindowStart?.();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    phaseStart = t0;
    counting = true;
    await Promise.race([sleep(options.durationMs), stoppedEarly]);
    counting = false;
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    await options.atWindowEnd?.();

    const windowMs = t1 - t0;
    const at = (percentile: number) => histogram.getValueAtPercentile(percentile) / 1000;
    return {
      seconds: windowMs / 1000,
      ...counts,
      non2xx: counts.responses - counts.ok2xx,
      latencyMs: { mean: histogram.mean / 1000, p50: at(50), p90: at(90), p99: at(99), max: histogram.maxValue / 1000 },
      histogram: hdr.encodeIntoCompressedBase64(histogram),
      processCpuCores: (cpu.user + cpu.system) / 1000 / windowMs,
    };
  } finally {
    clearInterval(ticker);
    instance.stop();
    await finished.catch(() => {});
  }
}
