// big.js: a response of ?kb=N KiB (default 64, at most 1048576 = 1 GiB) of deterministic text,
// with its Content-Length, for size sweeps. It writes in 64 KiB chunks and waits for 'drain'
// whenever stdout is full: the backpressure a 1990s server got for free from a blocking pipe.
const LINE = 64; // bytes per line, 1024 lines per block
const block = Buffer.from(Array.from({ length: 1024 }, (_, i) => `${`webhist big.js line ${String(i).padStart(4, '0')} `.padEnd(LINE - 1, '.')}\n`).join(''));

// Resolves when the reader has caught up, or when it has gone away.
function drained(stream) {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done).on('close', done);
  });
}

export default async function big({ env, stdout }) {
  const asked = Number.parseInt(new URLSearchParams(env.QUERY_STRING).get('kb') ?? '', 10);
  const kb = Number.isNaN(asked) ? 64 : Math.min(Math.max(asked, 0), 1048576);
  const total = kb * 1024;
  stdout.write(`Content-Type: text/plain\r\nContent-Length: ${total}\r\n\r\n`);
  for (let left = total; left > 0; left -= block.length) {
    if (stdout.destroyed) return; // the client went away: stop producing
    const chunk = left >= block.length ? block : block.subarray(0, left);
    if (!stdout.write(chunk)) await drained(stdout);
  }
}
