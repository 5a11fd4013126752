/**
 * Lesson 12's checks, in CGI mode. upper.sh over WebSocket: the RFC 6455 handshake with the RFC's
 * own key on a raw socket, masked text frames out, upper-cased frames back; a process per open
 * connection (read from /webhist/status?json) and none once it closes. And the learner's rpc
 * program as a Connect-style unary JSON RPC: the greeting, invalid_argument as 400, GET as 405.
 */
import { basename } from 'node:path';
import type { CheckContext, Suite } from '../../../src/learn/checks.ts';
import { Opcode, openWebSocket, type WebSocketProbe } from '../../../src/learn/websocket-client.ts';

/** RFC 6455 §1.3: the key the RFC itself uses, and the accept value it prints for it. */
const rfcKey = 'dGhlIHNhbXBsZSBub25jZQ==';
const rfcAccept = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const upper = '/cgi-bin/upper.sh';
const procedure = '/greet.v1.GreetService/Greet';
const rpc = (t: CheckContext) => `/cgi-bin/${basename(t.files['cgi-bin/rpc.*']!)}${procedure}`;
const names = ['Ada', 'Grace Hopper', 'Alan Kay', 'Katherine Johnson', 'Dennis Ritchie', 'Barbara Liskov'];
const pick = <T>(t: CheckContext, list: T[]) => list[Math.floor(t.random() * list.length)]!;
const json = { 'Content-Type': 'application/json' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A connection to upper.sh, its bytes recorded in the report whatever happens. */
async function connection<T>(t: CheckContext, label: string, use: (ws: WebSocketProbe) => Promise<T>): Promise<T> {
  let ws: WebSocketProbe | undefined;
  try {
    ws = await openWebSocket(t.port, upper, { key: rfcKey, random: t.random, timeoutMs: 10_000 });
    t.status(ws.response, 101, "The handshake is the server's part: is upper.sh in cgi-bin and executable?");
    return await use(ws);
  } catch (error) {
    if (error instanceof Error && error.name !== 'CheckFailure') t.fail(`the WebSocket connection to ${upper} failed: ${error.message}`);
    throw error;
  } finally {
    t.record({ label: `${label}: the handshake, on a raw socket`, ...ws?.handshake() });
    for (const line of ws?.frameLog() ?? []) t.record({ label: line });
    ws?.destroy();
  }
}

/** Sends `text` and waits for the message that comes back. */
async function echo(t: CheckContext, ws: WebSocketProbe, text: string): Promise<string> {
  ws.send(text);
  const frame = await ws.next(5000);
  if (!frame)
    t.fail(
      `no message came back within 5 s of sending ${JSON.stringify(text)}: print one line per message and make sure it leaves at once (a program writing into a pipe buffers its output: tr alone keeps it until the end, Python needs flush=True)`,
    );
  if (frame!.opcode === Opcode.close)
    t.fail(
      `the connection was closed (code ${frame!.payload.length >= 2 ? frame!.payload.readUInt16BE(0) : 'none'}) instead of an answer to ${JSON.stringify(text)}: did upper.sh exit? It must keep reading lines until stdin ends`,
    );
  t.expect(frame!.opcode === Opcode.text, `the answer to ${JSON.stringify(text)} is a frame with opcode ${frame!.opcode}, not a text frame (1)`);
  return frame!.payload.toString('utf8');
}

/** The pids of the CGI processes running upper.sh now, from the live status report. */
async function upperProcesses(t: CheckContext): Promise<number[]> {
  const response = await t.http({ path: '/webhist/status?json' });
  const report = JSON.parse(response.text) as { live: { processes: { pid: number; kind: string; current: string[] }[] } };
  return report.live.processes.filter((p) => p.kind === 'cgi' && p.current.includes(upper)).map((p) => p.pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function rpcCall(t: CheckContext, body: string, headers: Record<string, string> = json) {
  return t.http({ method: 'POST', path: rpc(t), headers, body });
}

/** A Connect error: the status, and a JSON body whose code is `code`. */
function connectError(t: CheckContext, response: Awaited<ReturnType<typeof rpcCall>>, status: number, code: string, what: string) {
  t.status(response, status, `${what}: a Connect error is an HTTP status and a JSON body {"code":"${code}","message":"…"}`);
  t.header(response, 'Content-Type', /^application\/json\b/, `${what}: the error body is JSON: Content-Type: application/json`);
  let body: { code?: unknown };
  try {
    body = JSON.parse(response.text);
  } catch {
    t.fail(`${what}: the body ${JSON.stringify(response.text.slice(0, 120))} is not JSON; answer {"code":"${code}","message":"…"}`);
  }
  t.expect(
    body!.code === code,
    `${what}: the error's code is ${JSON.stringify(body!.code)}; expected "${code}" (the Connect protocol's error codes are gRPC's, in snake_case)`,
  );
}

export default {
  files: [
    { path: 'cgi-bin/upper.sh', executable: true },
    { path: 'cgi-bin/rpc.*', executable: true },
  ],
  checks: [
    {
      task: 1,
      title: `the handshake with RFC 6455's own key: 101 Switching Protocols and Sec-WebSocket-Accept: ${rfcAccept}`,
      async run(t) {
        await connection(t, `GET ${upper} with Sec-WebSocket-Key: ${rfcKey}`, async (ws) => {
          t.header(ws.response, 'Upgrade', /^websocket$/i);
          t.header(ws.response, 'Sec-WebSocket-Accept', rfcAccept, 'base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 §4.2.2');
        });
      },
    },
    {
      task: 1,
      title: 'each message comes back upper-cased, in order, on one connection',
      async run(t) {
        const messages = ['hello', `${pick(t, names)} wrote to the server`, 'rfc 6455, december 2011'];
        await connection(t, `three messages to ${upper}`, async (ws) => {
          for (const message of messages) {
            const back = await echo(t, ws, message);
            t.expect(
              back === message.toUpperCase(),
              `sent ${JSON.stringify(message)}, got back ${JSON.stringify(back)}; expected ${JSON.stringify(message.toUpperCase())}: upper-case each line (tr a-z A-Z) and print it`,
            );
          }
        });
      },
    },
    {
      task: 2,
      title: 'one open connection is one process; closing it (code 1000) ends the process',
      async run(t) {
        const before = await upperProcesses(t);
        const pid = await connection(t, `a connection to ${upper}, closed with 1000`, async (ws) => {
          await echo(t, ws, 'are you there');
          const now = (await upperProcesses(t)).filter((p) => !before.includes(p));
          t.expect(
            now.length === 1,
            `/webhist/status?json lists ${now.length} new upper.sh process(es) while one connection is open; expected exactly 1 (one process per connection)`,
          );
          t.note(`upper.sh ran as pid ${now[0]} for the connection`);
          const closed = await ws.close(1000, 5000);
          t.expect(closed, 'the server did not end the connection within 5 s of the close frame');
          return now[0]!;
        });
        for (let waited = 0; waited < 5000 && (alive(pid) || (await upperProcesses(t)).includes(pid)); waited += 100) await sleep(100);
        t.expect(
          !alive(pid),
          `process ${pid} (upper.sh) still runs 5 s after its connection closed: the server stops a script's whole process group when its client leaves — does upper.sh start something outside it (setsid, a daemon)?`,
        );
      },
    },
    {
      task: 2,
      title: 'five open connections are five processes, and none is left when they close',
      async run(t) {
        const before = await upperProcesses(t);
        const open: WebSocketProbe[] = [];
        try {
          for (let i = 0; i < 5; i++) {
            const ws = await openWebSocket(t.port, upper, { key: rfcKey, random: t.random, timeoutMs: 10_000 });
            open.push(ws);
            t.status(ws.response, 101);
            const back = await echo(t, ws, `client ${i + 1}`);
            t.expect(
              back === `CLIENT ${i + 1}`,
              `connection ${i + 1} of 5 answered ${JSON.stringify(back)} to "client ${i + 1}"; expected "CLIENT ${i + 1}" (task 1 first)`,
            );
          }
          const during = (await upperProcesses(t)).filter((p) => !before.includes(p));
          t.record({ label: `five connections open at once; /webhist/status?json lists ${during.length} new upper.sh processes: ${during.join(', ')}` });
          t.expect(
            during.length === 5,
            `with five connections open, /webhist/status?json lists ${during.length} new upper.sh processes; expected 5: under CGI every open connection is a process, waiting in read`,
          );
          await Promise.all(open.map((ws) => ws.close(1000, 5000)));
          let left = during;
          for (let waited = 0; waited < 5000 && left.length; waited += 100) {
            await sleep(100);
            left = left.filter(alive);
          }
          t.expect(!left.length, `processes ${left.join(', ')} still run 5 s after their connections closed`);
        } finally {
          for (const ws of open) ws.destroy();
        }
      },
    },
    {
      task: 3,
      title: `POST ${procedure} {"name": …} answers 200 application/json {"greeting":"Hello, …"}`,
      async run(t) {
        const name = pick(t, names);
        const response = await rpcCall(t, JSON.stringify({ name }));
        t.status(response, 200, `A unary call that succeeds is a 200 whose body is the response message as JSON`);
        t.header(response, 'Content-Type', /^application\/json\b/, 'The Connect protocol answers JSON in JSON: Content-Type: application/json');
        let body: { greeting?: unknown };
        try {
          body = JSON.parse(response.text);
        } catch {
          t.fail(`the body ${JSON.stringify(response.text.slice(0, 120))} is not JSON; answer {"greeting":"Hello, ${name}"}`);
        }
        t.expect(
          body!.greeting === `Hello, ${name}`,
          `the greeting is ${JSON.stringify(body!.greeting)}; expected ${JSON.stringify(`Hello, ${name}`)} (no punctuation after the name)`,
        );
      },
    },
    {
      task: 4,
      title: 'a missing or empty name, or a body that is not JSON: 400 {"code":"invalid_argument"}',
      async run(t) {
        connectError(t, await rpcCall(t, '{}'), 400, 'invalid_argument', 'POST {} (no name)');
        connectError(t, await rpcCall(t, '{"name":""}'), 400, 'invalid_argument', 'POST {"name":""}');
        connectError(t, await rpcCall(t, 'name=Ada'), 400, 'invalid_argument', 'POST name=Ada (not JSON)');
      },
    },
    {
      task: 4,
      title: 'GET is 405 with Allow: POST',
      async run(t) {
        const response = await t.http({ path: rpc(t) });
        t.status(response, 405, 'A unary call is a POST; answer any other method "Status: 405 Method Not Allowed"');
        t.header(response, 'Allow', /^POST$/, 'A 405 says what would work (RFC 9110 §15.5.6): Allow: POST');
      },
    },
  ],
} satisfies Suite;
