/**
 * The bench's plain-language takeaways: computed from the scenarios that ran, each sentence left
 * out unless both sides of its comparison ran, and the colour key naming only what ran.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScenarioResult } from '../bench/harness/summary.ts';
import { takeaways } from '../bench/harness/takeaways.ts';
import { colourOf, colours, targetColours } from '../bench/harness/svg.ts';

function scenario(target: string, script: string, connections: number, cpuMs: number, kind = 'mode'): ScenarioResult {
  const spread = { median: cpuMs, min: cpuMs, max: cpuMs };
  return {
    target: { kind, name: target, label: target },
    script,
    connections,
    sizeKb: null,
    summary: { cpuMsPerRequest: spread },
  } as unknown as ScenarioResult;
}

describe('bench takeaways', () => {
  it('says what a process per request costs against a worker and the server itself, at the most connections all three ran', () => {
    const said = takeaways([
      scenario('cgi', 'hello.js', 1, 30),
      scenario('cgi', 'hello.js', 8, 27.2),
      scenario('fastcgi', 'hello.js', 8, 0.249),
      scenario('embedded', 'hello.js', 8, 0.029),
    ]);
    assert.deepEqual(said, [
      'A Node process per request (CGI) costs 27.2 ms of CPU for hello.js; the same handler in a persistent FastCGI worker 0.249 ms, and inside the server 0.029 ms (938× less than CGI).',
    ]);
  });

  it('compares with lighttpd in words that fit the ratio', () => {
    const close = takeaways([scenario('cgi', 'hello.sh', 8, 1.1), scenario('lighttpd-cgi', 'hello.sh', 8, 1.0, 'peer')]);
    assert.match(close.join('\n'), /1\.1× the CPU of lighttpd's mod_cgi .* most of a CGI request is the process itself/);
    const far = takeaways([scenario('cgi', 'hello.sh', 8, 3), scenario('lighttpd-cgi', 'hello.sh', 8, 1.0, 'peer')]);
    assert.match(far.join('\n'), /3\.0× the CPU .* webhist's own work around each process/);
  });

  it('says nothing of a comparison one side of which did not run, or measured no CPU', () => {
    assert.deepEqual(takeaways([scenario('cgi', 'hello.js', 8, 27), scenario('fastcgi', 'hello.js', 8, 0.2)]), []);
    assert.deepEqual(takeaways([scenario('cgi', 'hello.sh', 1, 1), scenario('fastcgi', 'hello.sh', 8, 2)]), [], 'no shared connection count');
    assert.deepEqual(takeaways([scenario('cgi', 'hello.sh', 8, 0), scenario('cgi-fork', 'hello.sh', 8, 2)]), [], 'no CPU measured');
  });

  it('gives each mode its own colour and every peer the one peer colour', () => {
    const modes = ['cgi', 'cgi-fork', 'fastcgi', 'embedded'].map((name) => colourOf({ kind: 'mode', name }));
    assert.equal(new Set(modes).size, 4);
    assert.equal(colourOf({ kind: 'peer', name: 'lighttpd-cgi' }), colours.peer);
    assert.equal(colourOf({ kind: 'static', name: 'static' }), targetColours.static);
  });
});
