// counter.js: what persists, and where. `count` lives at module level: under CGI every request
// gets a fresh process, so it is always 1; a FastCGI worker keeps it for its life (one count per
// worker); embedded, it lives as long as the server process. mod_perl and FastCGI users learned
// this the hard way, through globals that leaked from one request into the next.
let count = 0;

export default async function counter({ stdout }) {
  count++;
  stdout.write(`Content-Type: text/plain\r\n\r\ncount=${count} pid=${process.pid}\n`);
}
