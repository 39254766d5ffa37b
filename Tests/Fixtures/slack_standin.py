#!/usr/bin/env python3
"""Stands in for a Slack incoming webhook (Slack cannot be reached from here): accepts a POST of
a Block Kit message and checks it the way Slack does — a `text` fallback, `blocks` of known types
with their required fields and Slack's length limits — answering `ok`, or 400 `invalid_blocks`
like Slack. Every message is appended to LOG as a JSON line {ok, problems, body}.
usage: slack_standin.py PORT_FILE LOG"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_path = sys.argv[1], sys.argv[2]


def text_object(obj, kinds, limit):
    if not isinstance(obj, dict) or obj.get("type") not in kinds or not isinstance(obj.get("text"), str):
        return f"text object of type {kinds} expected"
    if not obj["text"] or len(obj["text"]) > limit:
        return f"text must be 1..{limit} characters"
    return None


def check(message):
    problems = []
    if not isinstance(message.get("text"), str) or not message["text"]:
        problems.append("no text fallback")
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return problems + ["blocks must be a list of 1..50"]
    for index, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            problem = text_object(block.get("text"), ["plain_text"], 150)
        elif kind == "section":
            problem = text_object(block.get("text"), ["mrkdwn", "plain_text"], 3000)
        elif kind == "context":
            elements = block.get("elements")
            problem = None if isinstance(elements, list) and 1 <= len(elements) <= 10 and all(text_object(e, ["mrkdwn", "plain_text"], 3000) is None for e in elements) else "context elements invalid"
        elif kind == "actions":
            elements = block.get("elements")
            ok = isinstance(elements, list) and 1 <= len(elements) <= 25 and all(
                e.get("type") == "button" and text_object(e.get("text"), ["plain_text"], 75) is None and str(e.get("url", "")).startswith("http") for e in elements)
            problem = None if ok else "actions elements invalid"
        elif kind == "divider":
            problem = None
        else:
            problem = f"unknown block type {kind!r}"
        if problem:
            problems.append(f"blocks[{index}]: {problem}")
    return problems


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            message = json.loads(body)
            problems = check(message) if isinstance(message, dict) else ["not a JSON object"]
        except ValueError:
            message, problems = None, ["invalid_payload"]
        with open(log_path, "a") as log:
            log.write(json.dumps({"ok": not problems, "problems": problems, "body": message}) + "\n")
        answer = b"ok" if not problems else b"invalid_blocks"
        self.send_response(200 if not problems else 400)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
