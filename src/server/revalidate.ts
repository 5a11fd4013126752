/**
 * Remembers an async lookup for a while, the way PHP's opcache.revalidate_freq remembers its
 * stat() calls: a file looked up in the last `ttlMs` is not looked up again. On the hot path a
 * realpath() or stat() is a trip through libuv's thread pool, several times the cost of the
 * rest of a request for a handler that prints one line. The price is that a change on disk is
 * seen up to `ttlMs` late. Keys may come from clients (PATH_INFO), so the memory is bounded.
 */
export function revalidateEvery<V>(ttlMs: number, lookup: (key: string) => Promise<V>, maxEntries = 1024) {
  const memory = new Map<string, { value: Promise<V>; until: number }>();
  return (key: string): Promise<V> => {
    const now = performance.now();
    const known = memory.get(key);
    if (known && known.until > now) return known.value;
    if (memory.size >= maxEntries) memory.clear();
    const value = lookup(key);
    memory.set(key, { value, until: now + ttlMs });
    // A failed lookup is not remembered: the next request asks again.
    value.catch(() => memory.delete(key));
    return value;
  };
}
