// nph-clock.js: Netscape's server push (1995). The response is multipart/x-mixed-replace: each
// part replaces the previous one on screen, so the browser shows a ticking clock, one part a
// second, ?n= times (default 5, at most 60). Its name starts with nph- ("non-parsed headers",
// RFC 3875 §5): the script writes the whole HTTP response, status line included, and the server
// passes it through untouched, so nothing buffers the parts. Try: curl -N URL
//
// The parts are text/plain, as in 1995. Today's browsers draw a replacing stream only for
// images (Chromium stopped drawing other documents; Firefox still does, and webcams still send
// MJPEG this way), so ?as=svg sends each tick as an SVG image: that one ticks in any browser.
const boundary = 'webhist-clock';

export default async function nphClock({ env, stdout }) {
  const query = new URLSearchParams(env.QUERY_STRING);
  const asked = Number.parseInt(query.get('n') ?? '', 10);
  const n = Number.isNaN(asked) ? 5 : Math.min(Math.max(asked, 1), 60);
  const part = query.get('as') === 'svg' ? svgPart : textPart;
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
    stdout.write(`--${boundary}\r\n${part(`${new Date().toISOString()}  (${i} of ${n})`)}\r\n`);
  }
  stdout.write(`--${boundary}--\r\n`);
}

function textPart(tick) {
  return `Content-Type: text/plain\r\n\r\n${tick}`;
}

// A Content-Length per part lets the browser draw the image as soon as it has arrived.
function svgPart(tick) {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="420" height="48"><rect width="100%" height="100%" fill="#fff"/>' +
    `<text x="8" y="32" font-family="monospace" font-size="20">${tick}</text></svg>`;
  return `Content-Type: image/svg+xml\r\nContent-Length: ${Buffer.byteLength(svg)}\r\n\r\n${svg}`;
}

// Waits a second, or less if stdout closes meanwhile.
function second(stdout) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stdout.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, 1000);
    stdout.once('close', done);
  });
}
