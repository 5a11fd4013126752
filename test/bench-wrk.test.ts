/**
 * Reading wrk's summary for --validate, with and without the lines wrk prints only when
 * something went wrong.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWrk } from '../bench/harness/wrk.ts';

const clean = `Running 2s test @ http://127.0.0.1:18081/cgi-bin/hello.sh
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.60ms    3.90ms  36.17ms   76.58%
    Req/Sec     1.08k   161.05     1.36k    80.00%
  2167 requests in 2.02s, 359.76KB read
Requests/sec:   1071.07
Transfer/sec:    177.82KB
`;

describe('parseWrk', () => {
  it('reads requests and the rate', () => {
    assert.deepEqual(parseWrk(clean), { reqPerSec: 1071.07, requests: 2167, non2xx: 0, socketErrors: 0 });
  });

  it('adds up socket errors and reads non-2xx', () => {
    const troubled = clean.replace('359.76KB read\n', '359.76KB read\n  Socket errors: connect 1, read 2, write 3, timeout 4\n  Non-2xx or 3xx responses: 5\n');
    assert.deepEqual(parseWrk(troubled), { reqPerSec: 1071.07, requests: 2167, non2xx: 5, socketErrors: 10 });
  });

  it('says what it could not read', () => {
    assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n'), /cannot read wrk's output: unable to connect/);
  });
});
