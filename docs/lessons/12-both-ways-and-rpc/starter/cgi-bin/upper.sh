#!/bin/sh
# upper.sh: a WebSocket echo, websocketd's way (any language will do, as long as the file keeps
# this name). Each message from the client arrives as one line on stdin; each line you print goes
# back to the client as one message.
#
# TODO: answer each message upper-cased: "hello" → "HELLO". This one sends it back unchanged.
cat
