// hello.js: the smallest handler script, and the benchmark's hello. The same file runs as a
// process per request (CGI, 1993), in a persistent worker (FastCGI, 1996) and inside the
// server (embedded, like mod_perl / mod_php): only the cost of getting here changes.
export default async function hello({ stdout }) {
  stdout.write('Content-Type: text/plain\r\n\r\nHello, world from a JavaScript handler\n');
}
