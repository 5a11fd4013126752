#!/bin/sh
# hello.sh: the smallest CGI program there is. NCSA httpd (1993) set a few environment
# variables, ran a program like this one and sent the client whatever it printed:
# a header, a blank line, a body. Nothing else is needed.
printf 'Content-Type: text/plain\r\n\r\n'
echo 'Hello, world from sh'
