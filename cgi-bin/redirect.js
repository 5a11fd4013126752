// redirect.js: the three kinds of redirect a CGI script can answer with (RFC 3875 §6.2).
//   ?to=local   Location: /path and nothing else: the server fetches that path itself and the
//               client never knows (§6.2.2, a local redirect)
//   ?to=client  Location: http://host/ and nothing else: the server answers 302 (§6.2.3)
//   ?to=doc     Status + absolute Location + a body for clients that don't follow (§6.2.4)
const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export default async function redirect({ env, stdout }) {
  const to = new URLSearchParams(env.QUERY_STRING).get('to');
  const name = env.SERVER_NAME ?? 'localhost';
  const host = env.HTTP_HOST || `${name.includes(':') ? `[${name}]` : name}:${env.SERVER_PORT}`; // HTTP/1.0: no Host
  const home = `http://${host}/`;
  if (to === 'local') {
    stdout.write('Location: /cgi-bin/printenv.js?redirected=1\r\n\r\n');
  } else if (to === 'client') {
    stdout.write(`Location: ${home}\r\n\r\n`);
  } else if (to === 'doc') {
    stdout.write(
      `Status: 301 Moved Permanently\r\nLocation: ${home}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n` +
        `<!doctype html>\n<title>Moved Permanently</title>\n<p>This page has moved to <a href="${escapeHtml(home)}">${escapeHtml(home)}</a>.</p>\n`,
    );
  } else {
    const self = escapeHtml(env.SCRIPT_NAME);
    stdout.write(
      'Content-Type: text/html; charset=utf-8\r\n\r\n' +
        `<!doctype html>\n<title>Redirects</title>\n<h1>Three ways a CGI script redirects</h1>\n<ul>\n` +
        `<li><a href="${self}?to=local">local</a>: the server quietly serves printenv.js instead; the URL bar does not change, but QUERY_STRING says redirected=1</li>\n` +
        `<li><a href="${self}?to=client">client</a>: a bare Location, which the server turns into 302 Found</li>\n` +
        `<li><a href="${self}?to=doc">client, with a document</a>: 301 Moved Permanently with a Location and a small page</li>\n</ul>\n`,
    );
  }
}
