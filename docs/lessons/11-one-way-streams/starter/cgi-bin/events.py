#!/usr/bin/env python3
"""events.py: a clock as Server-Sent Events. Any language will do: events.sh, events.pl,
events.js… — keep one file named events.* in cgi-bin.

TODO: Content-Type: text/event-stream, then
      retry: 2000                       (and an empty line)
      id: 1 / data: tick 1              (and an empty line), a second later id: 2 / data: tick 2, …
      for as long as the client listens, flushing each event;
      with the header Last-Event-ID: 41 (HTTP_LAST_EVENT_ID), start at id 42.
This one prints one tick as plain text and stops.
"""
import sys

sys.stdout.write('Content-Type: text/plain\r\n\r\ntick 1\n')
