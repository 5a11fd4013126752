// visits.js: a handler script. The same file runs in all three modes: a fresh process per
// request (cgi), a worker that imports it once and calls it per request (fastcgi), or
// imported into the server itself (embedded), as mod_perl and mod_php ran scripts in 1996–97.
//
// TODO: ?name=X → "Hello, X", then a line "served=N pid=P": N counts the requests this
//       process has served (count them at module level), P is process.pid.
//       ?wait=MS waits MS milliseconds (with await) before answering.
export default async function visits({ env, stdout }) {
  stdout.write('Content-Type: text/plain\r\n\r\nHello, world\n');
}
