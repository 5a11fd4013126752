/**
 * Lesson 7's checks: the learner's WSGI application through its CGI gateway (cgi-bin/items.py,
 * wsgiref.handlers.CGIHandler) in webhist's CGI mode; then the same app.py, unchanged, under a
 * persistent wsgiref server the checker starts on port 0, the same requests to both and the
 * answers compared field by field.
 */
import type { CheckContext, Response, Suite } from '../../../src/learn/checks.ts';

const gateway = '/cgi-bin/items.py';
const json = { 'Content-Type': 'application/json' };
const words = ['flask', 'bottle', 'pyramid', 'django', 'cherrypy', 'webpy', 'falcon', 'tornado'];
const word = (t: CheckContext) => `${words[Math.floor(t.random() * words.length)]}-${Math.floor(t.random() * 10_000)}`;

/** wsgiref's own server, on port 0, serving app.py from the learner's folder (PEP 3333's reference server). */
const wsgirefServer = `
import sys
sys.path.insert(0, '.')
sys.dont_write_bytecode = True
from wsgiref.simple_server import make_server, WSGIRequestHandler
from app import application

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server('127.0.0.1', 0, application, handler_class=Quiet)
print('wsgiref serving on port', server.server_port, flush=True)
server.serve_forever()
`;

interface Item {
  id: unknown;
  name: string;
}

function parseJson(t: CheckContext, response: Response, what: string): unknown {
  try {
    return JSON.parse(response.text);
  } catch {
    return t.fail(`${what}: the body is not JSON: ${JSON.stringify(response.text.slice(0, 120))}. Return json.dumps(...).encode() as the body`);
  }
}

async function list(t: CheckContext, base: string, port?: number): Promise<{ response: Response; items: Item[] }> {
  const response = await t.http({ path: `${base}/items` }, { port });
  t.status(response, 200, `GET ${base}/items should answer start_response('200 OK', …)`);
  t.header(response, 'Content-Type', /^application\/json/, "The list is JSON: start_response('200 OK', [('Content-Type', 'application/json'), …])");
  const items = parseJson(t, response, `GET ${base}/items`);
  t.expect(Array.isArray(items), `GET ${base}/items should answer a JSON list ([…]), not ${JSON.stringify(response.text.slice(0, 80))}`);
  return { response, items: items as Item[] };
}

async function add(t: CheckContext, base: string, name: string, port?: number): Promise<{ response: Response; item: Item; location: string }> {
  const response = await t.http({ method: 'POST', path: `${base}/items`, headers: json, body: JSON.stringify({ name }) }, { port });
  t.status(response, 201, 'A POST that makes a new resource answers 201 Created (RFC 9110 §15.3.2)');
  const location = t.header(
    response,
    'Location',
    /\S/,
    "201 Created says where the new item lives: ('Location', environ['SCRIPT_NAME'] + '/items/' + str(id))",
  );
  t.header(response, 'Content-Type', /^application\/json/, 'The new item comes back as JSON');
  const item = parseJson(t, response, `POST ${base}/items`) as Item;
  t.expect(
    item && typeof item === 'object' && item.name === name && item.id !== undefined,
    `POST ${base}/items should answer the new item, {"id": …, "name": ${JSON.stringify(name)}}, but answered ${JSON.stringify(response.text.slice(0, 120))}`,
  );
  t.expect(
    new URL(location, 'http://x').pathname === `${base}/items/${item.id}`,
    `Location is ${JSON.stringify(location)}; expected ${base}/items/${item.id}: the mount point (environ['SCRIPT_NAME'], "${base}" here) + "/items/" + the id`,
  );
  return { response, item, location };
}

export default {
  files: [{ path: 'app.py' }, { path: 'cgi-bin/items.py', executable: true }],
  checks: [
    {
      task: 1,
      title: `GET ${gateway}/items through the CGI gateway answers 200 and a JSON list`,
      async run(t) {
        await list(t, gateway);
      },
    },
    {
      task: 2,
      title: 'POST /items answers 201 Created, Location and the item; the next GET (a new process) lists it',
      async run(t) {
        const name = word(t);
        const { item } = await add(t, gateway, name);
        const { items } = await list(t, gateway);
        t.expect(
          items.some((i) => i?.name === name && i.id === item.id),
          `the POST answered ${JSON.stringify(item)}, but the next GET lists ${JSON.stringify(items.slice(-3))}${items.length > 3 ? ' (the last three)' : ''}: under CGI every request is a new process, so a Python list starts empty each time. Keep the items in a file beside app.py`,
        );
      },
    },
    {
      task: 3,
      title: 'the same app.py under a persistent wsgiref server answers the same, field by field',
      async run(t) {
        const peer = t.start('python3', ['-c', wsgirefServer], { cwd: t.dir });
        let port: number;
        try {
          port = Number((await peer.waitFor(/on port (\d+)/, 15_000))[1]);
        } catch (error) {
          const said = peer.stderrLines().slice(-3).join(' / ');
          return t.fail(`wsgiref's server did not start with your app.py: ${(error as Error).message}${said ? `: ${said}` : ''}`);
        }
        t.note(`wsgiref's server for app.py listens on 127.0.0.1:${port}`);
        const traceback = () => {
          const lines = peer.stderrLines();
          return lines.length ? `; wsgiref's server printed: ${lines.slice(-2).join(' / ')}` : '';
        };
        const under = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
          try {
            return await step();
          } catch (error) {
            const why = (error as Error).message;
            const hang = /no complete response|closed before/.test(why)
              ? ". Under CGI the body ends when stdin does; on wsgiref's persistent connection it never ends by itself: read exactly int(environ.get('CONTENT_LENGTH') or 0) bytes from wsgi.input"
              : '';
            return t.fail(`under wsgiref, ${what}: ${why}${hang}${traceback()}`);
          }
        };
        const cgiName = word(t);
        const wsgiName = word(t);
        const cgi = { list: await list(t, gateway), added: await add(t, gateway, cgiName) };
        const wsgi = {
          list: await under('GET /items', () => list(t, '', port)),
          added: await under('POST /items', () => add(t, '', wsgiName, port)),
        };
        const after = await under('GET /items after the POST', () => list(t, '', port));
        // Field by field: the same statuses, types, item fields; each Location under its own mount.
        const rows: [string, unknown, unknown][] = [
          ['GET status', cgi.list.response.status, wsgi.list.response.status],
          ['GET Content-Type', cgi.list.response.headers['content-type']?.[0], wsgi.list.response.headers['content-type']?.[0]],
          ['POST status', cgi.added.response.status, wsgi.added.response.status],
          ['POST Content-Type', cgi.added.response.headers['content-type']?.[0], wsgi.added.response.headers['content-type']?.[0]],
          ['item fields', Object.keys(cgi.added.item).sort().join(','), Object.keys(wsgi.added.item).sort().join(',')],
          [
            'Location below the mount',
            cgi.added.location.replace(gateway, '').replace(/\d+$/, 'ID'),
            new URL(wsgi.added.location, 'http://x').pathname.replace(/\d+$/, 'ID'),
          ],
        ];
        const differ = rows.filter(([, a, b]) => a !== b);
        t.expect(
          !differ.length,
          `the two servers disagree: ${differ.map(([what, a, b]) => `${what}: CGI ${JSON.stringify(a)}, wsgiref ${JSON.stringify(b)}`).join('; ')}. The same app.py should answer the same under any WSGI server`,
        );
        t.expect(
          after.items.some((i) => i?.name === wsgiName),
          `under wsgiref the POST answered ${JSON.stringify(wsgi.added.item)}, but the next GET lists ${JSON.stringify(after.items.slice(-3))}`,
        );
        t.expect(
          after.items.some((i) => i?.name === cgiName),
          `wsgiref's GET /items does not list ${JSON.stringify(cgiName)}, added through the CGI gateway a moment ago: both should read the same store (a file beside app.py)`,
        );
      },
    },
  ],
} satisfies Suite;
