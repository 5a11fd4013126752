// hang.js: a script that never finishes and never prints a byte, like a CGI program stuck on a
// lock. Only the server's time limit ends it: the client should get 504, and under CGI and
// FastCGI the process (with its whole group) is killed. No busy loop: it just waits forever.
export default async function hang({ stdout }) {
  await new Promise(() => {
    // A pending promise alone would let a one-shot node process exit; an interval keeps it
    // alive. It is cleared if the runtime closes stdout, so nothing lingers in a long-lived one.
    const keepAlive = setInterval(() => {}, 60_000);
    stdout.once('close', () => clearInterval(keepAlive));
  });
}
