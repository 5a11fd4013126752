// printenv.js: NCSA's classic printenv (shipped in httpd's cgi-bin from 1993, later Apache's
// Perl version): every variable the script was given, sorted, one NAME="value" per line. It is
// the quickest way to see what a CGI script really receives, and that nothing else leaks in.
export default async function printenv({ env, stdout }) {
  let body = '';
  for (const name of Object.keys(env).sort()) {
    const value = env[name].replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
    body += `${name}="${value}"\n`;
  }
  stdout.write(`Content-Type: text/plain; charset=utf-8\r\n\r\n${body}`);
}
