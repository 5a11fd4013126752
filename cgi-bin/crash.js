// crash.js: a script that dies mid-response. The headers and part of the body are already on
// their way when it throws (under CGI: node exits non-zero), so the client gets a 200 whose body
// is cut short: a CGI server cannot take back what it has sent. The error goes to the error log.
// A browser shows the line that arrived and goes on "loading": the chunked body never got its
// last chunk (Chromium: ERR_INCOMPLETE_CHUNKED_ENCODING). nosniff lets it show text/plain at
// once instead of holding the first bytes back to guess their type.
export default async function crash({ stdout }) {
  stdout.write('Content-Type: text/plain\r\nX-Content-Type-Options: nosniff\r\n\r\n');
  // Wait until the partial body has been handed on, so the crash really is mid-response.
  await new Promise((resolve) => stdout.write('This line arrives, and then the script dies\n', resolve));
  throw new Error('crash.js: deliberate failure after a partial response');
}
