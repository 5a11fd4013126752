/**
 * Lesson 9's checks: the learner's notes resource in all three modes — cgi, embedded, and
 * fastcgi with four workers — held to HTTP's meaning of each verb (RFC 9110 §9.3): POST makes,
 * GET reads, PUT replaces and may be repeated, DELETE removes; 405 names what is allowed; a body
 * that is not the agreed JSON is a 400. Last, notes made and read at once, in parallel: under
 * four FastCGI workers every process must see every note.
 */
import { basename } from 'node:path';
import type { CheckContext, Request, Response, Suite } from '../../../src/learn/checks.ts';

const json = { 'Content-Type': 'application/json' };
const words = ['resource', 'representation', 'hypermedia', 'stateless', 'cacheable', 'uniform', 'layered', 'idempotent'];
const word = (t: CheckContext) => `${words[Math.floor(t.random() * words.length)]} ${Math.floor(t.random() * 10_000)}`;
const collection = (t: CheckContext) => `/cgi-bin/${basename(t.files['cgi-bin/notes.*']!)}`;

interface Note {
  id: unknown;
  text: string;
}

/** One request; in embedded mode a plain CGI program cannot run at all, and the check says so and stops. */
async function send(t: CheckContext, request: Request): Promise<Response> {
  const response = await t.http(request);
  if (t.mode === 'embedded' && response.status === 500 && t.errorLog().some((line) => line.includes('plain CGI program'))) {
    t.skip(
      `embedded mode runs only handler scripts (a module with export default); ${basename(t.files['cgi-bin/notes.*']!)} is a plain CGI program. Write notes.js (or .mjs, .ts) with export default to be checked here too; cgi and fastcgi still hold yours to every check`,
    );
  }
  return response;
}

function parse(t: CheckContext, response: Response, what: string): unknown {
  t.header(response, 'Content-Type', /^application\/json/, `${what} answers JSON: Content-Type: application/json`);
  try {
    return JSON.parse(response.text);
  } catch {
    return t.fail(`${what}: the body is not JSON: ${JSON.stringify(response.text.slice(0, 120))}`);
  }
}

function expectNote(t: CheckContext, value: unknown, text: string, what: string): Note {
  const note = value as Note;
  t.expect(
    note && typeof note === 'object' && note.text === text && note.id !== undefined && note.id !== null,
    `${what} should answer the note, {"id": …, "text": ${JSON.stringify(text)}}, but answered ${JSON.stringify(value)}`,
  );
  return note;
}

async function create(t: CheckContext, text: string): Promise<{ note: Note; location: string }> {
  const response = await send(t, { method: 'POST', path: collection(t), headers: json, body: JSON.stringify({ text }) });
  t.status(response, 201, 'POST to the collection makes a new resource: answer "Status: 201 Created" (RFC 9110 §15.3.2)');
  const location = t.header(response, 'Location', /\S/, `201 says where the new note lives: Location: ${collection(t)}/ID (SCRIPT_NAME + "/" + id)`);
  const note = expectNote(t, parse(t, response, 'POST'), text, 'POST');
  const path = new URL(location, t.url).pathname;
  t.expect(
    path === `${collection(t)}/${note.id}`,
    `Location is ${JSON.stringify(location)}; expected ${collection(t)}/${note.id}: the collection's path, "/", the note's id (it arrives back as PATH_INFO "/${note.id}")`,
  );
  return { note, location: path };
}

async function expectGone(t: CheckContext, path: string, after: string) {
  const response = await send(t, { path });
  t.status(response, 404, `${after}, GET ${path} finds nothing: answer "Status: 404 Not Found"`);
}

export default {
  files: [{ path: 'cgi-bin/notes.*', executable: true }],
  async beforeServe(t) {
    if (t.mode !== 'fastcgi') return [];
    t.note('four FastCGI workers, each a process with its own memory');
    return ['--workers', '4'];
  },
  checks: [
    {
      task: 1,
      title: 'POST {"text"} answers 201, Location and the note; GET Location and GET the collection show it',
      async run(t) {
        const text = word(t);
        const { note, location } = await create(t, text);
        const read = await send(t, { path: location });
        t.status(
          read,
          200,
          `GET ${location} reads the note that POST just made. Under cgi and fastcgi that is another process: keep notes where every process can read them (files beside the script)`,
        );
        expectNote(t, parse(t, read, `GET ${location}`), text, `GET ${location}`);
        const all = await send(t, { path: collection(t) });
        t.status(all, 200);
        const list = parse(t, all, `GET ${collection(t)}`);
        t.expect(Array.isArray(list), `GET ${collection(t)} should answer a JSON list of notes, not ${JSON.stringify(all.text.slice(0, 80))}`);
        t.expect(
          (list as Note[]).some((n) => n?.id === note.id && n.text === text),
          `GET ${collection(t)} does not list note ${JSON.stringify(note.id)}: ${JSON.stringify(all.text.slice(0, 160))}`,
        );
      },
    },
    {
      task: 2,
      title: 'PUT replaces a note, and PUT again gives the same (idempotent); GET shows the new text',
      async run(t) {
        const { note, location } = await create(t, word(t));
        const text = `${word(t)} (replaced)`;
        for (const time of ['first', 'second']) {
          const put = await send(t, { method: 'PUT', path: location, headers: json, body: JSON.stringify({ text }) });
          t.status(put, 200, `PUT ${location} replaces the note and answers it: "Status: 200 OK" (the ${time} time too: PUT is idempotent, RFC 9110 §9.2.2)`);
          const replaced = expectNote(t, parse(t, put, `PUT (${time} time)`), text, `PUT (${time} time)`);
          t.expect(
            replaced.id === note.id,
            `PUT ${location} answered id ${JSON.stringify(replaced.id)}; a PUT replaces the note at that URL, keeping its id ${JSON.stringify(note.id)}`,
          );
        }
        const read = await send(t, { path: location });
        t.status(read, 200);
        expectNote(t, parse(t, read, `GET ${location}`), text, `GET ${location} after PUT`);
      },
    },
    {
      task: 2,
      title: 'DELETE answers 204 with no body; then GET and DELETE answer 404',
      async run(t) {
        const { location } = await create(t, word(t));
        const gone = await send(t, { method: 'DELETE', path: location });
        t.status(gone, 204, `DELETE ${location} removes the note and answers "Status: 204 No Content"`);
        t.expect(gone.body.length === 0, `a 204 has no body, but ${gone.body.length} bytes came`);
        await expectGone(t, location, 'After DELETE');
        const again = await send(t, { method: 'DELETE', path: location });
        t.status(again, 404, `DELETE of a note already deleted: "Status: 404 Not Found"`);
        await expectGone(t, `${collection(t)}/999999999`, 'For an id never made');
      },
    },
    {
      task: 3,
      title: 'other methods: 405 with Allow, on the collection and on a note',
      async run(t) {
        const { location } = await create(t, word(t));
        for (const [method, path, allow] of [
          ['DELETE', collection(t), /^GET,\s*POST$/],
          ['PUT', collection(t), /^GET,\s*POST$/],
          ['POST', location, /^GET,\s*PUT,\s*DELETE$/],
          ['PATCH', location, /^GET,\s*PUT,\s*DELETE$/],
        ] as const) {
          const response = await send(t, { method, path, headers: json, body: '{"text":"x"}' });
          t.status(response, 405, `${method} ${path}: answer "Status: 405 Method Not Allowed"`);
          t.header(
            response,
            'Allow',
            allow,
            `A 405 says what would work here: Allow: ${path === location ? 'GET, PUT, DELETE' : 'GET, POST'} (RFC 9110 §15.5.6)`,
          );
        }
      },
    },
    {
      task: 3,
      title: 'a body that is not {"text": "..."} answers 400, on POST and on PUT',
      async run(t) {
        const { location } = await create(t, word(t));
        for (const [method, path, body] of [
          ['POST', collection(t), '{"text": '],
          ['POST', collection(t), '{"title": "no text"}'],
          ['PUT', location, 'text=plain'],
        ] as const) {
          const response = await send(t, { method, path, headers: json, body });
          t.status(
            response,
            400,
            `${method} ${path} with ${JSON.stringify(body)}: not a JSON object with a "text" string, so "Status: 400 Bad Request" (and nothing stored)`,
          );
        }
      },
    },
    {
      task: 4,
      title: 'eight notes made at once, each read back at once, three times over: every process sees every note',
      async run(t) {
        const made: { note: Note; location: string; text: string }[] = [];
        for (let round = 1; round <= 3; round++) {
          const texts = Array.from({ length: 8 }, () => word(t));
          made.push(...(await Promise.all(texts.map(async (text) => ({ ...(await create(t, text)), text })))));
          const ids = made.map((m) => m.note.id);
          t.expect(
            new Set(ids.map(String)).size === ids.length,
            `after ${round * 8} POSTs, eight at a time, the ids are ${JSON.stringify(ids)}: the same id twice. Whatever chose them was not shared by the processes that answered — a counter in memory is per process (${t.mode === 'fastcgi' ? 'four FastCGI workers count four times over' : 'under cgi each request starts from nothing'}) — or two processes read "the last id" at the same moment. Keep the notes in files, and take an id with an operation only one process can win (create the file with flag "wx", or link())`,
          );
          const reads = await Promise.all(made.map(({ location }) => send(t, { path: location })));
          for (const [i, read] of reads.entries()) {
            const { note, location, text } = made[i]!;
            const seen = read.status === 200 ? (JSON.parse(read.text || 'null') as Note | null) : null;
            if (read.status === 404 || (seen && seen.text !== text)) {
              t.fail(
                `note ${JSON.stringify(note.id)} was made (201, Location ${location}, ${JSON.stringify(text)}) but GET answered ${read.status === 404 ? '404' : JSON.stringify(read.text.slice(0, 80))}: ${t.mode === 'fastcgi' ? "four FastCGI workers are four processes, each with its own memory; a note kept in one worker's memory is not in the others'" : 'the process that answered did not have it'}. Keep every note where every process reads it: a file beside the script`,
              );
            }
            t.status(read, 200);
            expectNote(t, parse(t, read, `GET ${location}`), text, `GET ${location}`);
          }
        }
      },
    },
  ],
} satisfies Suite;
