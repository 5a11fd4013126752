/**
 * The one backpressure copy: a stream's chunks handed on one by one, the stream paused while
 * the destination is full and resumed once it has drained, so a slow reader slows the writer
 * and nothing is buffered whole. The gateway copies a script's output into an HTTP response
 * with it (src/server/gateway.ts); both FastCGI sides copy streams into records with it
 * (src/fastcgi/writer.ts).
 *
 * Events, not an async iterator: every request takes this path, and most carry one small chunk.
 */
import type { Readable } from 'node:stream';

/** What the destination says to a chunk: take more, pause until drained, or stop copying. */
export type Delivered = 'more' | 'full' | 'stop';

/** How a copy ended: the source ended, `deliver` or the signal stopped it, or the source broke off. */
export type CopyEnd = { how: 'ended' } | { how: 'stopped' } | { how: 'broken'; error: Error | undefined };

/**
 * Copies `source` through `deliver` until the source ends or breaks, `deliver` says 'stop', or
 * `signal` aborts. After 'full', the source is paused until `drained()` settles. A source that
 * has already ended gives { how: 'ended' } at once; one destroyed before its end, 'broken'.
 */
export function copyChunks(source: Readable, deliver: (chunk: Buffer) => Delivered, drained: () => Promise<unknown>, signal?: AbortSignal): Promise<CopyEnd> {
  if (source.readableEnded) return Promise.resolve({ how: 'ended' });
  if (source.destroyed) return Promise.resolve({ how: 'broken', error: source.errored ?? undefined });
  if (signal?.aborted) return Promise.resolve({ how: 'stopped' });
  return new Promise((resolve) => {
    let settled = false;
    const onData = (chunk: Buffer | string) => {
      const said = deliver(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (said === 'stop') return settle({ how: 'stopped' });
      if (said === 'full') {
        source.pause();
        void drained().then(
          () => settled || source.resume(),
          () => settled || source.resume(),
        );
      }
    };
    const onEnd = () => settle({ how: 'ended' });
    const onClose = () => settle(source.readableEnded ? { how: 'ended' } : { how: 'broken', error: undefined });
    const onError = (error: Error) => settle({ how: 'broken', error });
    const onAbort = () => settle({ how: 'stopped' });
    const settle = (end: CopyEnd) => {
      settled = true;
      source.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      resolve(end);
    };
    source.on('data', onData).once('end', onEnd).once('close', onClose).once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
