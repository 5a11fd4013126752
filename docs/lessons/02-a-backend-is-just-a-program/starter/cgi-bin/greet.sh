#!/bin/sh
# greet.sh: a CGI program. The server puts the request into environment variables
# (QUERY_STRING holds what came after the ?), runs this file, and turns what it prints
# into the response: header lines, an empty line, the body.
#
# TODO: greet the person named by ?name=… (decode + and %XX), and answer 400 when
#       there is no name.
printf 'Content-Type: text/plain\r\n\r\n'
echo "Hello, world!"
