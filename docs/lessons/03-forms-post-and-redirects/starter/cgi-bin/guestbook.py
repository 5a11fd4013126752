#!/usr/bin/env python3
"""guestbook.py: a guestbook, the web's first conversation (1993).

TODO:
  POST name=…&message=… (a form's body, on stdin)  → keep the entry, answer 303 with Location
  GET                                             → an HTML page listing every entry, escaped
  any other method                                → 405 with Allow: GET, POST
"""
import os
import sys

method = os.environ.get('REQUEST_METHOD', 'GET')

sys.stdout.write('Content-Type: text/html\r\n\r\n')
sys.stdout.write('<!doctype html><title>Guestbook</title><h1>Guestbook</h1>\n')
sys.stdout.write('<p>No entries yet (and this page answers every method the same way).</p>\n')
