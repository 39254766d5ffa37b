#!/usr/bin/env python3
"""An egress proxy as corporate networks run them: CONNECT tunnels for https, absolute-form
requests for plain http (answered here with what arrived, as JSON, instead of forwarding).
Each request is logged as a JSON line {method, target, authorization} to LOG. With USER:PASSWORD it
answers 407 unless Proxy-Authorization carries those credentials (Basic).
usage: connect_proxy.py PORT_FILE LOG [USER:PASSWORD]"""
import base64
import json
import os
import select
import socket
import socketserver
import sys

port_file, log_path = sys.argv[1], sys.argv[2]
expected = "Basic " + base64.b64encode(sys.argv[3].encode()).decode() if len(sys.argv) > 3 else None


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        authorization = headers.get("proxy-authorization")
        with open(log_path, "a") as log:
            log.write(json.dumps({"method": method, "target": target, "authorization": authorization}) + "\n")
        if expected is not None and authorization != expected:
            self.request.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"egress\"\r\nContent-Length: 0\r\n\r\n")
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
            except OSError:
                self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            pair = [self.request, upstream]
            while True:
                readable, _, _ = select.select(pair, [], [], 10)
                if not readable:
                    break
                for sock in readable:
                    chunk = sock.recv(65536)
                    if not chunk:
                        upstream.close()
                        return
                    (upstream if sock is self.request else self.request).sendall(chunk)
            upstream.close()
        else:
            body = json.dumps({"request_line": lines[0], "headers": headers}).encode()
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
