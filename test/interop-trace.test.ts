/**
 * `webhist serve --mode fastcgi --trace`: one request's records, one line each, in the order a
 * protocol analyser would show them. docs/ quotes this output, so the test pins its shape.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { eventually } from './support/http.ts';
import { descendants, isRunning, node, startPeer, stopAll, webhistBin } from './support/peers.ts';

after(stopAll);

it('one GET: BEGIN_REQUEST, PARAMS, the empty PARAMS and STDIN, STDOUT, END_REQUEST', async () => {
  const server = startPeer('webhist serve', node, [webhistBin, 'serve', '--mode', 'fastcgi', '--workers', '1', '--port', '0', '--trace']);
  const [, url] = await server.waitFor(/webhist fastcgi mode on (http:\/\/127\.0\.0\.1:\d+\/)/);
  const res = await fetch(`${url}cgi-bin/hello.js?lesson=1`);
  assert.equal(await res.text(), 'Hello, world from a JavaScript handler\n');
  await server.waitFor(/^recv END_REQUEST /);
  await eventually(() => /^recv END_REQUEST .*\n\n/m.test(server.output()), 5000, 'the blank line after the request');
  const trace = server.output();

  // One header line per record, a long one (PARAMS) folded under it, a blank line after each request:
  // send PARAMS id=1 content=512 padding=0 NAME=value ...
  //      NAME=value ...
  assert.match(trace, /^recv END_REQUEST id=1 content=8 padding=0 appStatus=0 protocolStatus=REQUEST_COMPLETE\n\n/m);
  assert.match(trace, /^recv STDOUT id=1 content=\d+ padding=\d+ "Content-Type: text\/plain\\r\\n\\r\\nHell"…$/m, 'STDOUT bytes shown short');
  assert.ok(
    trace.split('\n').every((line) => line.length <= 100 || !/^(send|recv| {5})/.test(line)),
    'folded at 100 columns',
  );
  const records = [...trace.replaceAll('\n     ', ' ').matchAll(/^(send|recv) (\w+) id=(\d+) content=(\d+) padding=\d+ ?(.*)$/gm)].map(
    ([, direction, type, id, content, detail]) => ({ direction, type, id, empty: content === '0', detail: detail! }),
  );
  assert.ok(
    records.some((r) => r.direction === 'send' && r.type === 'GET_VALUES' && r.id === '0'),
    'the client asks GET_VALUES',
  );
  const id = records.find((r) => r.type === 'BEGIN_REQUEST')?.id;
  const request = records.filter((r) => r.id === id);
  assert.deepEqual(
    request.map((r) => `${r.direction} ${r.type}${r.empty ? ' (end of stream)' : ''}`),
    [
      'send BEGIN_REQUEST',
      'send PARAMS',
      'send PARAMS (end of stream)',
      'send STDIN (end of stream)',
      'recv STDOUT',
      'recv STDOUT (end of stream)',
      'recv END_REQUEST',
    ],
  );
  assert.equal(request[0]!.detail, 'role=RESPONDER flags=KEEP_CONN');
  assert.match(request[1]!.detail, /(^| )SCRIPT_NAME=\/cgi-bin\/hello\.js( |$)/);
  assert.match(request[1]!.detail, /(^| )QUERY_STRING=lesson=1( |$)/);
  assert.equal(request.at(-1)!.detail, 'appStatus=0 protocolStatus=REQUEST_COMPLETE');

  // SIGTERM to the server alone: it stops its pool, and nothing of it is left.
  const tree = descendants(server.pid);
  assert.ok(tree.length >= 2, 'a process manager and a worker');
  process.kill(server.pid, 'SIGTERM');
  assert.equal(await server.exited, 0);
  await eventually(() => tree.every((pid) => !isRunning(pid)), 5000, 'the pool to exit with the server');
});
