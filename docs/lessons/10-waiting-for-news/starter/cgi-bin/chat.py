#!/usr/bin/env python3
"""chat.py: a chat room by long polling (Comet, 2006). Any language will do: chat.sh, chat.pl,
chat.js… — keep one file named chat.* in cgi-bin.

TODO: POST msg=…               → append the message as one line to a spool file beside this
                                 script; answer 204 No Content (a message that is empty: 400)
      GET ?since=N&timeout=S   → if there are messages after the Nth: 200, text/plain, one line
                                 per message, "number text" (numbers count from 1)
                                 if not: look again every 0.1 s, up to S seconds; then 204
      any other method         → 405 with Allow: GET, POST
"""
import sys

sys.stdout.write('Status: 204 No Content\r\n\r\n')
