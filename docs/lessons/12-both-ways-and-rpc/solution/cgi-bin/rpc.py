#!/usr/bin/env python3
"""rpc.py: one procedure, greet.v1.GreetService/Greet, called the Connect protocol's way (unary,
JSON): POST /cgi-bin/rpc.py/greet.v1.GreetService/Greet with {"name": "Ada"} answers 200 and
{"greeting": "Hello, Ada"}. An error is an HTTP status and a JSON body {"code", "message"}, the
code one of gRPC's sixteen in snake_case (https://connectrpc.com/docs/protocol).
"""
import json
import os
import sys

PROCEDURE = '/greet.v1.GreetService/Greet'


def answer(status, value, extra=''):
    body = json.dumps(value)
    sys.stdout.write(f'Status: {status}\r\n{extra}Content-Type: application/json\r\n\r\n{body}')
    sys.exit(0)


def error(status, code, message, extra=''):
    answer(status, {'code': code, 'message': message}, extra)


method = os.environ.get('REQUEST_METHOD', 'GET')
if os.environ.get('PATH_INFO', '') != PROCEDURE:
    # A procedure this server does not have: a plain 404, as a router would answer.
    error('404 Not Found', 'unimplemented', f'no procedure {os.environ.get("PATH_INFO", "")}; try {PROCEDURE}')
if method != 'POST':
    # Connect allows GET only for procedures declared free of side effects; this one is not.
    error('405 Method Not Allowed', 'unimplemented', f'{method}: a unary call is a POST', 'Allow: POST\r\n')

length = int(os.environ.get('CONTENT_LENGTH') or 0)
try:
    request = json.loads(sys.stdin.buffer.read(length) or b'null')
except ValueError:
    error('400 Bad Request', 'invalid_argument', 'the request body is not JSON')
name = request.get('name') if isinstance(request, dict) else None
if not isinstance(name, str) or not name:
    error('400 Bad Request', 'invalid_argument', 'name is required')
answer('200 OK', {'greeting': f'Hello, {name}'})
