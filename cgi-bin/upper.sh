#!/bin/sh
# A WebSocket echo, websocketd-style (docs/websocket.md): each message arrives as a line on
# stdin, and each line printed goes back as a message, here upper-cased.
while read -r line; do echo "$line" | tr a-z A-Z; done
