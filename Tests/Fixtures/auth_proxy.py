#!/usr/bin/env python3
"""Stands in for the authenticating reverse proxy (oauth2-proxy, nginx auth) that many teams put
in front of Prometheus: a GET carrying exactly the expected Authorization header is forwarded to
the real Prometheus; anything else gets 401. The expected header is read from a file, never argv.
Every Authorization header received is appended to <port file>.seen, so a test can check what
was sent.
usage: auth_proxy.py PORT_FILE UPSTREAM_URL EXPECTED_HEADER_FILE"""
import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

upstream = sys.argv[2].rstrip("/")
with open(sys.argv[3]) as handle:
    expected = handle.read().strip()
seen_path = sys.argv[1] + ".seen"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        header = self.headers.get("Authorization", "")
        with open(seen_path, "a") as seen:
            seen.write(("ok" if header == expected else "refused") + "\n")
        if header != expected:
            # Like many real proxies, the refusal quotes what it got: the product must redact it.
            body = f"Unauthorized: invalid credentials ({header})\n".encode()
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="prometheus"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        try:
            with urllib.request.urlopen(upstream + self.path, timeout=30) as answer:
                status, body, kind = answer.status, answer.read(), answer.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as error:
            status, body, kind = error.code, error.read(), error.headers.get("Content-Type", "application/json")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
