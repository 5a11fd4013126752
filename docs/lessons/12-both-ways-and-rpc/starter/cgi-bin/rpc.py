#!/usr/bin/env python3
"""rpc.py: one procedure, greet.v1.GreetService/Greet, called the Connect protocol's way (unary,
JSON). Any language will do: rpc.js, rpc.pl, rpc.sh… — keep one file named rpc.* in cgi-bin.

TODO: POST …/greet.v1.GreetService/Greet with {"name": "Ada"}
          → 200, Content-Type: application/json, {"greeting": "Hello, Ada"}
      no name, an empty one, or a body that is not JSON
          → 400, {"code": "invalid_argument", "message": "…"}
      any other method → 405 with Allow: POST
This one answers every call "not written yet".
"""
import sys

sys.stdout.write('Status: 501 Not Implemented\r\nContent-Type: application/json\r\n\r\n'
                 '{"code": "unimplemented", "message": "not written yet"}')
