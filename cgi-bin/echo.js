// echo.js: sends the request body back, with the request's Content-Type and a Content-Length.
// It reads stdin to the end first (exactly CONTENT_LENGTH bytes, RFC 3875 §4.2), as a CGI
// script must; the tests use it to push big bodies through every mode, both ways.
export default async function echo({ env, stdin, stdout }) {
  const chunks = [];
  for await (const chunk of stdin) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  stdout.write(`Content-Type: ${env.CONTENT_TYPE || 'application/octet-stream'}\r\n` + `Content-Length: ${body.length}\r\n\r\n`);
  stdout.write(body);
}
