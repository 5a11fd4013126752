#!/usr/bin/env python3
"""chat.py: a chat room by long polling (Comet, 2006), as a plain CGI program.

POST msg=…                  → append the message to the spool, a file beside this script; 204
GET  ?since=N&timeout=S     → 200 and every message after the Nth, one "number text" line each,
                              at once if there are any; else wait for one up to S seconds; then 204

The spool is a log that only grows; each client keeps its own place in it (since=N), as a
consumer of a message queue keeps its offset.
"""
import os
import sys
import time
from urllib.parse import parse_qs

SPOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'chat.spool')
LONGEST_WAIT = 25  # seconds: under the server's --timeout, which would otherwise end us with a 504


def answer(status, body='', content_type='text/plain; charset=utf-8', extra=''):
    head = f'Status: {status}\r\n{extra}'
    if body:
        head += f'Content-Type: {content_type}\r\n'
    sys.stdout.buffer.write((head + '\r\n' + body).encode('utf-8'))
    sys.stdout.flush()
    sys.exit(0)


def messages():
    try:
        with open(SPOOL, encoding='utf-8') as spool:
            return spool.read().splitlines()
    except FileNotFoundError:
        return []


method = os.environ.get('REQUEST_METHOD', 'GET')

if method == 'POST':
    length = int(os.environ.get('CONTENT_LENGTH') or 0)
    form = parse_qs(sys.stdin.buffer.read(length).decode('utf-8', 'replace'))
    message = ' '.join(form.get('msg', [''])[0].splitlines()).strip()
    if not message:
        answer('400 Bad Request', 'send msg=… (a message that is not empty)\n')
    # One line, one write, in append mode: the kernel puts each write at the end of the file,
    # so two POSTs at once cannot interleave their lines.
    with open(SPOOL, 'a', encoding='utf-8') as spool:
        spool.write(message + '\n')
    answer('204 No Content')

if method != 'GET':
    answer('405 Method Not Allowed', f'{method} is not allowed here\n', extra='Allow: GET, POST\r\n')

query = parse_qs(os.environ.get('QUERY_STRING', ''))
try:
    since = max(int(query.get('since', ['0'])[0]), 0)
    timeout = min(max(float(query.get('timeout', ['0'])[0]), 0), LONGEST_WAIT)
except ValueError:
    answer('400 Bad Request', 'since is a message number, timeout a number of seconds\n')

# Long polling: hold the request (this whole process) until there is news or time is up.
# A tenth of a second between looks at the spool is quick for a person and cheap for the disk.
deadline = time.monotonic() + timeout
while True:
    news = messages()[since:]
    if news:
        answer('200 OK', ''.join(f'{since + i + 1} {text}\n' for i, text in enumerate(news)))
    if time.monotonic() >= deadline:
        answer('204 No Content')
    time.sleep(0.1)
