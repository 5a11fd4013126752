#!/bin/sh
# nph-countdown.sh: Netscape's server push (1995), by hand.
# Its name starts with nph- ("non-parsed headers"): the server passes every byte it prints
# straight to the client, so it must write the whole response itself, status line first.
#
# TODO: the status line, a multipart/x-mixed-replace Content-Type with a boundary, then four
#       text/plain parts "3", "2", "1", "liftoff" about a second apart, then the closing boundary.
printf 'Content-Type: text/plain\r\n\r\n'
echo 3 2 1 liftoff
