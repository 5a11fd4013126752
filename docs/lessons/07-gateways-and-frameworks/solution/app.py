"""app.py: a WSGI application (PEP 333, 2003; PEP 3333 for Python 3).

One callable, application(environ, start_response), that any WSGI server can run: a CGI
gateway (cgi-bin/items.py), wsgiref's own server, gunicorn, mod_wsgi, uWSGI.

GET  /items  → 200, the items as a JSON list
POST /items  → 201 Created, Location: where the new item lives, the item as JSON
"""
import json
import os

# Beside this file, not in a Python list: under CGI every request is a new process, and a
# list would be born empty each time.
STORE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'items.json')


def load():
    try:
        with open(STORE, encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        return []


def save(items):
    # Write a new file and rename it over the old one: a reader never sees half a list.
    with open(STORE + '.tmp', 'w', encoding='utf-8') as f:
        json.dump(items, f)
    os.replace(STORE + '.tmp', STORE)


def reply(start_response, status, value, extra=()):
    body = json.dumps(value).encode('utf-8')
    start_response(status, [('Content-Type', 'application/json'), ('Content-Length', str(len(body))), *extra])
    return [body]


def application(environ, start_response):
    method = environ['REQUEST_METHOD']
    # PATH_INFO is the path below where the application is mounted; SCRIPT_NAME is the mount
    # point: "/cgi-bin/items.py" under the CGI gateway, "" under wsgiref's server (PEP 3333).
    path = environ.get('PATH_INFO') or '/'
    if path != '/items':
        return reply(start_response, '404 Not Found', {'error': f'no resource {path}; try /items'})
    if method == 'GET':
        return reply(start_response, '200 OK', load())
    if method == 'POST':
        # Read exactly CONTENT_LENGTH bytes: on a persistent connection the input never ends
        # by itself, so read() without a length would wait for ever (PEP 3333, wsgi.input).
        length = int(environ.get('CONTENT_LENGTH') or 0)
        try:
            sent = json.loads(environ['wsgi.input'].read(length) or b'null')
        except ValueError:
            sent = None
        if not isinstance(sent, dict) or not isinstance(sent.get('name'), str):
            return reply(start_response, '400 Bad Request', {'error': 'send a JSON object {"name": "..."}'})
        items = load()
        item = {'id': max((i['id'] for i in items), default=0) + 1, 'name': sent['name']}
        items.append(item)
        save(items)
        location = f"{environ.get('SCRIPT_NAME', '')}/items/{item['id']}"
        return reply(start_response, '201 Created', item, [('Location', location)])
    return reply(start_response, '405 Method Not Allowed', {'error': f'{method} is not allowed here'}, [('Allow', 'GET, POST')])
