#!/bin/sh
# upper.sh: a WebSocket echo, websocketd's way. Each message from the client arrives as one line
# on stdin; each line printed goes back as one message. `read` returns false when stdin ends
# (the connection closed), and the loop, and the script, end with it.
while IFS= read -r line; do
  # One tr per line: its output is written (and flushed) when it exits, so the answer leaves at
  # once. A single `tr a-z A-Z` for the whole stream would buffer its output into a pipe.
  printf '%s\n' "$line" | tr 'a-z' 'A-Z'
done
