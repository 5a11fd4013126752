#!/usr/bin/env python3
"""guestbook.py: a guestbook, the web's first conversation (1993).

POST name=…&message=…  → append the entry, then 303 See Other back to the page (Post/Redirect/Get)
GET                    → the page, every entry escaped for HTML
other methods          → 405 with Allow (RFC 9110 §15.5.6)
"""
import html
import json
import os
import sys
from urllib.parse import parse_qs

BOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'guestbook.txt')
SELF = os.environ.get('SCRIPT_NAME', '/cgi-bin/guestbook.py')


def answer(status, headers, body=''):
    head = f'Status: {status}\r\n' + ''.join(f'{k}: {v}\r\n' for k, v in headers)
    sys.stdout.buffer.write((head + '\r\n' + body).encode('utf-8'))


def entries():
    try:
        with open(BOOK, encoding='utf-8') as book:
            return [json.loads(line) for line in book if line.strip()]
    except FileNotFoundError:
        return []


method = os.environ.get('REQUEST_METHOD', 'GET')
if method == 'POST':
    # The body is exactly CONTENT_LENGTH bytes on stdin (RFC 3875 §4.2).
    length = int(os.environ.get('CONTENT_LENGTH') or 0)
    form = parse_qs(sys.stdin.buffer.read(length).decode('utf-8', 'replace'))
    entry = {'name': form.get('name', [''])[0], 'message': form.get('message', [''])[0]}
    # One JSON object a line: a newline inside a message cannot split an entry.
    with open(BOOK, 'a', encoding='utf-8') as book:
        book.write(json.dumps(entry) + '\n')
    # Nothing the visitor typed goes into a header: the Location is our own path.
    answer('303 See Other', [('Location', SELF), ('Content-Type', 'text/plain')], 'Thank you. The guestbook is at ' + SELF + '\n')
elif method in ('GET', 'HEAD'):
    items = ''.join(
        f'<li><b>{html.escape(e["name"], quote=True)}</b>: {html.escape(e["message"], quote=True)}</li>\n' for e in entries()
    )
    page = (
        '<!doctype html><title>Guestbook</title><h1>Guestbook</h1>\n'
        f'<form method="post" action="{html.escape(SELF)}">'
        '<input name="name" placeholder="name"> <input name="message" placeholder="message"> <button>Sign</button></form>\n'
        f'<ul>\n{items}</ul>\n'
    )
    answer('200 OK', [('Content-Type', 'text/html; charset=utf-8')], page)
else:
    answer('405 Method Not Allowed', [('Allow', 'GET, POST'), ('Content-Type', 'text/plain')], f'{method} is not allowed here\n')
