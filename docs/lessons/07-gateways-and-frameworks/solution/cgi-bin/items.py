#!/usr/bin/env python3
"""items.py: the gateway. The web server runs this file as a CGI program (a process per
request); wsgiref's CGIHandler turns the CGI environment into a WSGI environ, calls the
application once, and prints its answer as CGI output (a Status: line, the headers, the body).
"""
import os
import sys
from wsgiref.handlers import CGIHandler

# app.py lives one folder up, beside cgi-bin/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from app import application  # noqa: E402

CGIHandler().run(application)
