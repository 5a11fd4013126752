/**
 * Remembers an async lookup for a while, the way PHP's opcache.revalidate_freq remembers its
 * stat() calls: a file looked up in the last `ttlMs` is not looked up again. On the hot path a
 * realpath() or stat() is a trip through libuv's thread pool, several times the cost of the
 * rest of a request for a handler that prints one line. The price is that a change on disk is
 * seen up to `ttlMs` late. Keys may come from clients (PATH_INFO), so the memory is bounded.
 */
export function revalidateEvery<V>(ttlMs: number, lookup: (key: string) => Promise<V>, maxEntries = 1024) {
  const memory = new Map<string, Remembered<V>>();
  /** The answer itself once it is known (no promise to wait a turn on), its promise until then. */
  return (key: string): V | Promise<V> => {
    const now = performance.now();
    const known = memory.get(key);
    if (known && known.until > now) return known.settled ? (known.value as V) : known.pending;
    if (memory.size >= maxEntries) memory.clear();
    const pending = lookup(key);
    const entry: Remembered<V> = { pending, settled: false, until: now + ttlMs };
    memory.set(key, entry);
    pending.then(
      (value) => Object.assign(entry, { settled: true, value }),
      // A failed lookup is not remembered: the next request asks again.
      () => memory.get(key) === entry && memory.delete(key),
    );
    return pending;
  };
}

interface Remembered<V> {
  pending: Promise<V>;
  settled: boolean;
  value?: V;
  until: number;
}
