#!/usr/bin/env python3
"""A stand-in for a 1Password Connect server (REST API v1) over a JSON vault file:
GET /v1/vaults[?filter=name eq "…"], GET /v1/vaults/{id}, GET /v1/vaults/{id}/items[?filter=title eq "…"],
GET /v1/vaults/{id}/items/{id}; bearer token required; every request logged to REQUEST_LOG.

usage: onepassword_connect.py VAULT_JSON TOKEN PORT_FILE REQUEST_LOG
"""
import json
import re
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

vault_file, token, port_file, request_log = sys.argv[1:5]
with open(vault_file) as handle:
    vaults = json.load(handle)["vaults"]


def summary(vault):
    return {"id": vault["id"], "name": vault["name"], "type": "USER_CREATED"}


def item_summary(item):
    return {"id": item["id"], "title": item["title"], "category": "LOGIN"}


def filtered(entries, query, key):
    expression = parse_qs(query).get("filter", [None])[0]
    if expression is None:
        return entries
    match = re.fullmatch(r'\s*(\w+)\s+eq\s+"(.*)"\s*', expression)
    if not match or match.group(1) != key:
        return None
    return [e for e in entries if e[key] == match.group(2)]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with open(request_log, "a") as log:
            log.write(json.dumps({"path": self.path, "authorization": self.headers.get("Authorization", "")}) + "\n")
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.reply(401, {"status": 401, "message": "Invalid bearer token"})
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if parts[:2] != ["v1", "vaults"]:
            return self.reply(404, {"status": 404, "message": "not found"})
        if len(parts) == 2:
            result = filtered([summary(v) for v in vaults], url.query, "name")
            return self.reply(200, result) if result is not None else self.reply(400, {"status": 400, "message": "invalid filter"})
        vault = next((v for v in vaults if v["id"] == parts[2]), None)
        if vault is None:
            return self.reply(404, {"status": 404, "message": "Invalid Vault UUID"})
        if len(parts) == 3:
            return self.reply(200, summary(vault))
        if len(parts) == 4 and parts[3] == "items":
            result = filtered([item_summary(i) for i in vault["items"]], url.query, "title")
            return self.reply(200, result) if result is not None else self.reply(400, {"status": 400, "message": "invalid filter"})
        if len(parts) == 5 and parts[3] == "items":
            item = next((i for i in vault["items"] if i["id"] == parts[4]), None)
            if item is None:
                return self.reply(404, {"status": 404, "message": "Invalid Item UUID"})
            return self.reply(200, {**item_summary(item), "vault": {"id": vault["id"]}, "sections": item.get("sections", []), "fields": item["fields"]})
        return self.reply(404, {"status": 404, "message": "not found"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
# Written atomically: readers poll for the file and must never see it empty.
with open(port_file + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
