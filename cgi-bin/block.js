// block.js: a handler that never yields. It spins in a synchronous loop for ?ms= (default 60000,
// at most 300000) before it answers, as a CPU-bound or runaway script does. Under CGI or FastCGI
// it ties up one process and the server's --timeout kills it. Embedded, it holds the server's
// only thread: every other request waits, and the time limit cannot fire either, because timers
// run on that thread too. The watchdog thread logs which script has blocked the server and for
// how long; with --processes N the supervisor kills the stuck process and starts another, as
// Apache prefork's parent lost only one child to a runaway mod_perl script. The default outlasts
// the default --timeout (30s), so the supervisor always steps in.
export default async function block({ env, stdout }) {
  const asked = Number.parseInt(new URLSearchParams(env.QUERY_STRING).get('ms') ?? '', 10);
  const ms = Number.isNaN(asked) ? 60000 : Math.min(Math.max(asked, 0), 300000);
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Nothing: no await, so nothing else on this thread runs until the loop ends.
  }
  stdout.write(`Content-Type: text/plain\r\n\r\nheld the event loop for ${ms} ms\n`);
}
