#!/bin/sh
# nph-countdown.sh: Netscape's server push (1995). Each part of a multipart/x-mixed-replace
# response replaces the one before it on screen; the response ends when the script does.
# An nph- script writes the whole HTTP response (RFC 3875 §5), so nothing buffers its parts.
boundary=countdown

printf '%s 200 OK\r\n' "${SERVER_PROTOCOL:-HTTP/1.0}"
printf 'Content-Type: multipart/x-mixed-replace;boundary=%s\r\n' "$boundary"
printf 'Cache-Control: no-cache\r\n'
# No Content-Length and no chunking: the body ends when the connection closes.
printf 'Connection: close\r\n\r\n'

for word in 3 2 1 liftoff; do
  # A part: the delimiter line, its own header lines, an empty line, its content (RFC 2046 §5.1.1).
  printf -- '--%s\r\nContent-Type: text/plain\r\n\r\n%s\r\n' "$boundary" "$word"
  [ "$word" = liftoff ] || sleep 1
done
printf -- '--%s--\r\n' "$boundary"
