#!/usr/bin/env python3
"""A test-owned Prometheus exporter: /metrics serves the series set through /set.
GET /set?series=<name{labels}>&value=<number> sets one series (value "" removes it).
usage: metrics_exporter.py PORT_FILE"""
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

series = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/set":
            query = parse_qs(url.query, keep_blank_values=True)
            name = query["series"][0]
            value = query.get("value", [""])[0]
            with lock:
                if value == "":
                    series.pop(name, None)
                else:
                    series[name] = float(value)
            body = b"ok\n"
        elif url.path == "/metrics":
            with lock:
                body = "".join(f"{name} {value}\n" for name, value in sorted(series.items())).encode()
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
