#!/usr/bin/env python3
"""items.py: the gateway between the web server (CGI) and app.py (WSGI).

TODO: import `application` from app.py (one folder up) and run it with
      wsgiref.handlers.CGIHandler — no HTTP of your own here.
"""
import sys

sys.stdout.write('Status: 501 Not Implemented\r\nContent-Type: text/plain\r\n\r\nthe gateway is not written yet\n')
