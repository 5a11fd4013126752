// nph-clock.js: Netscape's server push (1995). The response is multipart/x-mixed-replace: each
// part replaces the previous one on screen, so the browser shows a ticking clock, one part a
// second, ?n= times (default 5, at most 60). Its name starts with nph- ("non-parsed headers",
// RFC 3875 §5): the script writes the whole HTTP response, status line included, and the server
// passes it through untouched, so nothing buffers the parts. Try: curl -N URL
const boundary = 'webhist-clock';

export default async function nphClock({ env, stdout }) {
  const asked = Number.parseInt(new URLSearchParams(env.QUERY_STRING).get('n') ?? '', 10);
  const n = Number.isNaN(asked) ? 5 : Math.min(Math.max(asked, 1), 60);
  stdout.write(
    `${env.SERVER_PROTOCOL || 'HTTP/1.0'} 200 OK\r\n` +
      `Server: ${env.SERVER_SOFTWARE || 'webhist'}\r\n` +
      `Date: ${new Date().toUTCString()}\r\n` +
      `Content-Type: multipart/x-mixed-replace;boundary=${boundary}\r\n` +
      'Cache-Control: no-cache\r\n' +
      'Connection: close\r\n\r\n', // no length and no chunking: the body ends when the connection does
  );
  for (let i = 1; i <= n; i++) {
    if (i > 1) await second(stdout);
    if (stdout.destroyed) return; // the client went away
    stdout.write(`--${boundary}\r\nContent-Type: text/plain\r\n\r\n${new Date().toISOString()}  (${i} of ${n})\r\n`);
  }
  stdout.write(`--${boundary}--\r\n`);
}

// Waits a second, or less if stdout closes meanwhile.
function second(stdout) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); stdout.off('close', done); resolve(); };
    const timer = setTimeout(done, 1000);
    stdout.once('close', done);
  });
}
