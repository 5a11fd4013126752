/**
 * The checker as a FastCGI web server, for lesson 5: requests sent one after another on one
 * connection straight to a learner's responder, with FCGI_KEEP_CONN, built and read with the
 * kit's own codec (the FastCGI 1.0 specification, §3 records, §5 the request's life).
 */
import { connect } from 'node:net';
import { encodeParams } from '../fastcgi/params.ts';
import { Flags, RecordType, Role } from '../fastcgi/protocol.ts';
import { decodeEndRequestBody, encodeBeginRequestBody, encodeRecords, record, RecordParser, streamRecords } from '../fastcgi/records.ts';

export interface ProbeRequest {
  params: Record<string, string>;
  stdin?: Buffer;
}

interface ProbeAnswer {
  stdout: Buffer;
  /** STDOUT records received, empty ones included. */
  stdoutRecords: number;
  appStatus: number;
  protocolStatus: number;
}

export interface ProbeResult {
  answers: ProbeAnswer[];
  /** Why the probe stopped before every request was answered, in words for the learner. */
  problem?: string;
  sent: Buffer;
  received: Buffer;
}

/** Sends each request after the previous one ended, all on one connection kept open by KEEP_CONN. */
export function probe(port: number, requests: ProbeRequest[], timeoutMs = 10_000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const parser = new RecordParser();
    const sent: Buffer[] = [];
    const received: Buffer[] = [];
    const answers: ProbeAnswer[] = [];
    let current: ProbeAnswer = { stdout: Buffer.alloc(0), stdoutRecords: 0, appStatus: -1, protocolStatus: -1 };
    let settled = false;
    const finish = (problem?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ answers, problem, sent: Buffer.concat(sent), received: Buffer.concat(received) });
    };
    const timer = setTimeout(() => finish(`request ${answers.length + 1} got no FCGI_END_REQUEST within ${timeoutMs / 1000}s`), timeoutMs);
    const send = (index: number) => {
      const id = 1;
      const { params, stdin = Buffer.alloc(0) } = requests[index]!;
      const bytes = encodeRecords([
        record(RecordType.BEGIN_REQUEST, id, encodeBeginRequestBody(Role.RESPONDER, Flags.KEEP_CONN)),
        ...streamRecords(RecordType.PARAMS, id, encodeParams(params)),
        ...streamRecords(RecordType.STDIN, id, stdin),
      ]);
      sent.push(bytes);
      socket.write(bytes);
    };
    socket.setNoDelay(true);
    socket.on('connect', () => send(0));
    socket.on('data', (chunk) => {
      received.push(chunk);
      try {
        for (const r of parser.push(chunk)) {
          if (r.type === RecordType.STDOUT) {
            current.stdout = Buffer.concat([current.stdout, r.content]);
            current.stdoutRecords++;
          } else if (r.type === RecordType.END_REQUEST) {
            Object.assign(current, decodeEndRequestBody(r.content));
            answers.push(current);
            current = { stdout: Buffer.alloc(0), stdoutRecords: 0, appStatus: -1, protocolStatus: -1 };
            if (answers.length === requests.length) return finish();
            send(answers.length);
          }
        }
      } catch (error) {
        finish(`the responder's bytes stopped being FastCGI records: ${(error as Error).message}`);
      }
    });
    socket.on('end', () =>
      finish(
        answers.length === 0
          ? 'the responder closed the connection before it ended the first request'
          : `the responder closed the connection after ${answers.length} request(s), although FCGI_KEEP_CONN asked it to keep it open (§5.1: then the web server closes it)`,
      ),
    );
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish(error.code === 'ECONNREFUSED' ? 'the responder refused the connection: is it listening on PORT?' : error.message),
    );
  });
}
