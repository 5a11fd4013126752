// notes.js: notes as resources (Fielding, 2000). A handler script, so the same file runs in
// all three modes: a process per request (cgi), four workers (fastcgi), inside the server
// (embedded).
//
//   /cgi-bin/notes.js       GET → every note        POST {"text"} → 201, Location, the note
//   /cgi-bin/notes.js/ID    GET → the note          PUT {"text"} → replaced     DELETE → 204
//
// Each note is a file of its own in notes.d/ beside this script: no memory of this process
// is trusted, because under cgi and fastcgi the next request may be another process.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';

const store = new URL('./notes.d/', import.meta.url);
const fileOf = (id) => new URL(`${id}.json`, store);

async function ids() {
  const names = await readdir(store).catch(() => []);
  return names
    .map((n) => /^(\d+)\.json$/.exec(n)?.[1])
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
}

async function read(id) {
  return JSON.parse(await readFile(fileOf(id), 'utf8'));
}

/** Writes `note`'s bytes completely to a private file first, so no reader ever sees half a note. */
async function draft(note) {
  await mkdir(store, { recursive: true });
  const tmp = new URL(`.draft-${randomBytes(6).toString('hex')}`, store);
  await writeFile(tmp, JSON.stringify(note));
  return tmp;
}

async function create(text) {
  // link() fails if the name exists: two processes racing for the same id cannot both win.
  for (let id = ((await ids()).at(-1) ?? 0) + 1; ; id++) {
    const tmp = await draft({ id, text });
    try {
      await link(tmp, fileOf(id));
      return { id, text };
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    } finally {
      await unlink(tmp);
    }
  }
}

async function replace(id, text) {
  await read(id); // 404 if it is not there: PUT here replaces, it does not create
  await rename(await draft({ id, text }), fileOf(id));
  return { id, text };
}

function answer(stdout, status, body, headers = {}) {
  const head = [`Status: ${status}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  if (body !== undefined) head.push('Content-Type: application/json');
  stdout.write(`${head.join('\r\n')}\r\n\r\n${body === undefined ? '' : `${JSON.stringify(body)}\n`}`);
}

/** The request body as {"text": "…"}, or undefined when it is not that. */
async function textOf(stdin) {
  const chunks = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk));
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof value?.text === 'string' ? value.text : undefined;
  } catch {
    return undefined;
  }
}

export default async function notes({ env, stdin, stdout }) {
  const method = env.REQUEST_METHOD;
  const self = env.SCRIPT_NAME;
  const path = env.PATH_INFO ?? '';
  const badBody = () => answer(stdout, '400 Bad Request', { error: 'send a JSON object {"text": "..."}' });

  if (path === '' || path === '/') {
    if (method === 'GET') return answer(stdout, '200 OK', await Promise.all((await ids()).map(read)));
    if (method === 'POST') {
      const text = await textOf(stdin);
      if (text === undefined) return badBody();
      const note = await create(text);
      return answer(stdout, '201 Created', note, { Location: `${self}/${note.id}` });
    }
    return answer(stdout, '405 Method Not Allowed', { error: `${method} is not allowed on the collection` }, { Allow: 'GET, POST' });
  }

  const id = /^\/(\d+)$/.exec(path)?.[1];
  const missing = () => answer(stdout, '404 Not Found', { error: `no note ${path.slice(1)}` });
  if (!id) return missing();
  try {
    if (method === 'GET') return answer(stdout, '200 OK', await read(id));
    if (method === 'PUT') {
      const text = await textOf(stdin);
      if (text === undefined) return badBody();
      return answer(stdout, '200 OK', await replace(Number(id), text));
    }
    if (method === 'DELETE') {
      await unlink(fileOf(id));
      return answer(stdout, '204 No Content');
    }
  } catch (error) {
    if (error.code === 'ENOENT') return missing();
    throw error;
  }
  return answer(stdout, '405 Method Not Allowed', { error: `${method} is not allowed on a note` }, { Allow: 'GET, PUT, DELETE' });
}
