// slow.js: a script that takes its time (?ms=, default 1000, at most 60000), as a CGI script
// waiting on a 1990s database did. Shows how each process model copes with slow requests:
// CGI spends a process, FastCGI a worker, embedded nothing but a timer. Also trips --timeout.
export default async function slow({ env, stdout }) {
  const asked = Number.parseInt(new URLSearchParams(env.QUERY_STRING).get('ms') ?? '', 10);
  const ms = Number.isNaN(asked) ? 1000 : Math.min(Math.max(asked, 0), 60000);
  await new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stdout.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stdout.once('close', done); // the runtime closed stdout: the request is over, stop waiting
  });
  if (stdout.destroyed) return; // nobody is listening any more
  stdout.write(`Content-Type: text/plain\r\n\r\nslept ${ms} ms\n`);
}
