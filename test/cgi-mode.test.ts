/**
 * CGI mode's answers that depend on starting a process, beyond the shared conformance suite.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCgiMode } from '../modes/cgi/index.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('cgi mode: a program that cannot be started', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(() => createCgiMode());
    // Executable, but its interpreter does not exist: execve fails before the script exists.
    await writeFile(join(server.cgiBin, 'orphaned.cgi'), '#!/no/such/interpreter\n', { mode: 0o755 });
  });
  after(() => server.stop());

  it('answers 500 and logs why', async () => {
    const mark = server.mark();
    const res = await fetch(`${server.url}cgi-bin/orphaned.cgi`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /failed before it printed anything/);
    // The interpreter is named, not the script (which exists): spawn itself says only ENOENT.
    await server.waitForError(/orphaned\.cgi: cannot start .*orphaned\.cgi: the interpreter on its #! line, \/no\/such\/interpreter, does not exist/, mark);
  });
});
