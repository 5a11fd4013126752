// visits.js: a handler script, the same file in all three modes. Module-level state lives as
// long as the process that imported the module: one request under cgi, a worker's life under
// fastcgi, the server's life under embedded — what mod_perl's users met in 1996.
let served = 0;

export default async function visits({ env, stdout }) {
  served++;
  // Everything about this request stays in this call's own variables: another request may run
  // while this one awaits, and it must not see (or change) this one's name.
  const count = served;
  const query = new URLSearchParams(env.QUERY_STRING);
  const name = query.get('name') ?? 'stranger';
  const wait = Math.min(Number(query.get('wait')) || 0, 5000);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  stdout.write(`Content-Type: text/plain\r\n\r\nHello, ${name}\nserved=${count} pid=${process.pid}\n`);
}
