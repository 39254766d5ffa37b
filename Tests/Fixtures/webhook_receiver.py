#!/usr/bin/env python3
"""A team's webhook receiver: checks each delivery's HMAC-SHA256 signature with the shared secret
and appends {delivery_id, event, signature_ok, body} as one JSON line to LOG. With a PORT it binds
that port (so a test can stop it and bring it back at the same address).
usage: webhook_receiver.py PORT_FILE SECRET_FILE LOG [PORT]"""
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, secret_file, log_path = sys.argv[1], sys.argv[2], sys.argv[3]
port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
with open(secret_file, "rb") as handle:
    secret = handle.read().strip()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        signature = self.headers.get("X-SRE-Diagnose-Signature", "")
        entry = {
            "delivery_id": self.headers.get("X-SRE-Diagnose-Delivery"),
            "event": self.headers.get("X-SRE-Diagnose-Event"),
            "signature_ok": hmac.compare_digest(signature, expected),
            "body": json.loads(body or b"null"),
        }
        with open(log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")
        self.send_response(200 if entry["signature_ok"] else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
with open(port_file + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
