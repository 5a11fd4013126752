#!/usr/bin/env python3
"""events.py: a clock as Server-Sent Events (WHATWG HTML, "Server-sent events").

GET → 200 text/event-stream: a retry: field, then "id: n" / "data: tick n" once a second, for
as long as the client listens. A browser that lost the connection reconnects with the header
Last-Event-ID (HTTP_LAST_EVENT_ID here), and the ticks go on after it.
"""
import os
import sys
import time

last = os.environ.get('HTTP_LAST_EVENT_ID', '').strip()
n = int(last) if last.isdigit() else 0

out = sys.stdout
out.write('Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n')
# A comment (ignored by EventSource), and how long a browser should wait before reconnecting.
out.write(': a tick every second\nretry: 2000\n\n')
out.flush()
try:
    while True:
        n += 1
        out.write(f'id: {n}\ndata: tick {n}\n\n')
        # Without the flush, Python keeps the events in a buffer while stdout is a pipe: they
        # would arrive 8 KiB at a time, minutes late.
        out.flush()
        time.sleep(1)
except BrokenPipeError:
    # The client hung up (the server usually stops us first): nothing left to say.
    pass
