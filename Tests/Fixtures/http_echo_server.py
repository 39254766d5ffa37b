#!/usr/bin/env python3
"""An HTTP/1.1 server for the outbound client's tests.
  /echo...   answers {method, path, headers, body} as JSON (any method)
  /chunked   answers "alpha-beta-gamma" in three chunks (Transfer-Encoding: chunked)
  /big/N     answers N bytes
  /status/N  answers status N
usage: http_echo_server.py PORT_FILE"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = self.path.strip("/").split("/")
        if parts[0].startswith("echo"):
            echo = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode()}
            self.answer(200, json.dumps(echo).encode())
        elif parts[0] == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in (b"alpha-", b"beta-", b"gamma"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif parts[0] == "big":
            self.answer(200, b"x" * int(parts[1]), "text/plain")
        elif parts[0] == "status":
            self.answer(int(parts[1]), b"{}")
        else:
            self.answer(404, b"{}")

    do_GET = handle_any
    do_POST = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
# Written atomically: readers poll for the file and must never see it empty.
with open(sys.argv[1] + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
