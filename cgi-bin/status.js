// status.js: a CGI script chooses the HTTP status with a `Status:` header (RFC 3875 §6.3.3),
// which the server turns into the status line. ?code=NNN (default 418, RFC 2324's teapot).
import { STATUS_CODES } from 'node:http';

// A few reason phrases spelled as the RFCs spell them; node's table covers the rest.
const reasons = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
  418: "I'm a teapot",
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export default async function status({ env, stdout }) {
  const asked = new URLSearchParams(env.QUERY_STRING).get('code') ?? '418';
  let code = Number(asked);
  if (!/^\d{3}$/.test(asked) || code < 200 || code > 599) code = 400; // 1xx is not a script's to send
  const reason = reasons[code] ?? STATUS_CODES[code] ?? 'Custom Status';
  const line = `${code} ${reason}`;
  if (code === 204 || code === 304) {
    stdout.write(`Status: ${line}\r\n\r\n`); // these two never carry a body
    return;
  }
  const body = code === 400 && asked !== '400' ? `${line}: ?code= takes a status from 200 to 599\n` : `${line}\n`;
  stdout.write(`Status: ${line}\r\nContent-Type: text/plain\r\n\r\n${body}`);
}
