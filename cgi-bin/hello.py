#!/usr/bin/env python3
# hello.py: a CGI program in Python (the cgi module shipped with Python from 1995 to 3.12).
# The interpreter starts, runs these lines and exits, once for every request.
import sys

sys.stdout.write("Content-Type: text/plain\r\n\r\n")
sys.stdout.write("Hello, world from Python\n")
