/**
 * One CGI request forwarded over FastCGI (§6.2): the meta-variables go out as PARAMS, the body as STDIN,
 * and STDOUT comes back as the script's output. Shared by our pools (pool.ts) and by
 * --fastcgi-connect, which sends to an application someone else manages.
 */
import type { ClientResponse, FastCgiClient } from '../../src/fastcgi/client.ts';
import { ProtocolStatus, nameOf } from '../../src/fastcgi/protocol.ts';
import type { CgiRequest, ScriptExit, ScriptRun } from '../../src/mode.ts';

/** The run, and the client's view of it (which application process served it, how it ended). */
export interface Forwarded extends ScriptRun {
  response: ClientResponse;
}

export function forward(client: FastCgiClient, request: CgiRequest): Forwarded {
  // §4.1.2: no CONTENT_LENGTH, no body. Its stream is empty, and STDIN goes out closed at once,
  // in the write that carries the request, rather than after reading nothing from a stream.
  const stdin = request.env.CONTENT_LENGTH === undefined ? Buffer.alloc(0) : request.body;
  const response = client.request({ params: request.env, stdin, signal: request.signal, onStderr: request.logStderr });
  const finished = response.ended.then(
    ({ appStatus, protocolStatus }): ScriptExit => {
      if (protocolStatus !== ProtocolStatus.REQUEST_COMPLETE) {
        return { ok: false, reason: `the application refused the request: ${nameOf(ProtocolStatus, protocolStatus)}` };
      }
      return appStatus === 0 ? { ok: true } : { ok: false, reason: `ended with application status ${appStatus}` };
    },
    (error: Error): ScriptExit => ({ ok: false, reason: request.signal.aborted ? 'ABORT_REQUEST sent to the application' : error.message }),
  );
  return {
    stdout: response.stdout,
    finished,
    response,
    get pid() {
      return response.appPid;
    },
  };
}
