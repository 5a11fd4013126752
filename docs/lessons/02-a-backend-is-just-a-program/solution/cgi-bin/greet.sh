#!/bin/sh
# greet.sh: GET /cgi-bin/greet.sh?name=Ada%20Lovelace → "Hello, Ada Lovelace!"
# A CGI/1.1 program (NCSA, 1993; RFC 3875): the request arrives in the environment, the
# response leaves on stdout as header lines, an empty line and the body.

# The query is application/x-www-form-urlencoded: name=value pairs joined by &, a space
# written as +, any other byte as %XX. Decode into printf %b's octal escapes (POSIX sh has
# no \x), one character at a time.
urldecode() {
  rest=$(printf '%s' "$1" | tr '+' ' ')
  out=''
  while [ -n "$rest" ]; do
    case $rest in
      %[0-9A-Fa-f][0-9A-Fa-f]*)
        hex=${rest#%}
        hex=${hex%"${hex#??}"}
        out="$out$(printf '\\%03o' "$((0x$hex))")"
        rest=${rest#%??}
        ;;
      \\*)
        out="$out\\\\"
        rest=${rest#?}
        ;;
      *)
        out="$out${rest%"${rest#?}"}"
        rest=${rest#?}
        ;;
    esac
  done
  printf '%b' "$out"
}

# The first name=… pair of the query, still encoded.
raw=$(printf '%s\n' "$QUERY_STRING" | tr '&' '\n' | sed -n 's/^name=//p' | head -n 1)

if [ -z "$raw" ]; then
  # Status is a CGI header: the server turns it into the status line (RFC 3875 §6.3.3).
  printf 'Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n'
  echo 'Whom should I greet? Ask for ?name=Ada'
  exit 0
fi

printf 'Content-Type: text/plain\r\n\r\n'
printf 'Hello, %s!\n' "$(urldecode "$raw")"
