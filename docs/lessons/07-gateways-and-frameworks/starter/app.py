"""app.py: a WSGI application (PEP 333, 2003; PEP 3333 for Python 3).

TODO: GET  /items → 200, Content-Type: application/json, the items as a JSON list
      POST /items with a JSON body {"name": "..."} → 201 Created, a Location header
           (SCRIPT_NAME + "/items/" + the new id), and the new item {"id": ..., "name": ...}
      Keep the items where the next request (perhaps a new process) can find them.
"""


def application(environ, start_response):
    # environ: the CGI-style variables (REQUEST_METHOD, PATH_INFO, SCRIPT_NAME, CONTENT_LENGTH…)
    # and wsgi.input, the request body. start_response(status, headers) begins the answer;
    # the return value is an iterable of bytes: the body.
    body = b'not written yet\n'
    start_response('501 Not Implemented', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
