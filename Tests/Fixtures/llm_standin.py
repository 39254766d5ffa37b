#!/usr/bin/env python3
"""A scripted OpenAI-compatible chat-completions server (POST /v1/chat/completions) that records
every request body, for testing the LLM planner and synthesizer without a model.

usage: llm_standin.py SCRIPT_JSON PORT_FILE REQUEST_LOG

The script (re-read on every request) has one entry per kind of request — "plan" (tools offered,
first round), "followup" (tools offered, reviewing results) and "synthesis" (JSON answer asked):
  {"status": 200, "delay_s": 0, "content": "…", "tool_calls": [{"name": "…", "arguments": "…"}]}
"synthesis": {"auto": true} answers with the most severe findings of the request as causes.
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

script_file, port_file, request_log = sys.argv[1:4]


def kind(body):
    system = " ".join(m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system")
    if body.get("response_format"):
        return "synthesis"
    if "first results" in system:
        return "followup"
    return "plan"


def auto_synthesis(body):
    payload = json.loads(body["messages"][-1]["content"])
    order = ["critical", "high", "medium", "low", "info", "ok"]
    findings = sorted((f for f in payload["findings"] if f["severity"] not in ("ok", "info")), key=lambda f: order.index(f["severity"]))
    causes = [{"title": "LLM: " + f["title"], "confidence": 0.9 - 0.1 * i, "finding_ids": [f["id"]], "explanation": "because " + f["code"]} for i, f in enumerate(findings[:3])]
    return json.dumps({"summary": "LLM summary: " + (causes[0]["title"] if causes else "nothing wrong"), "probable_causes": causes, "next_steps": ["LLM step"]})


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(request_log, "a") as log:
            log.write(json.dumps({"path": self.path, "authorization": self.headers.get("Authorization", ""), "body": raw.decode("utf-8", "replace")}) + "\n")
        body = json.loads(raw)
        with open(script_file) as handle:
            script = json.load(handle).get(kind(body), {})
        time.sleep(script.get("delay_s", 0))
        status = script.get("status", 200)
        if status != 200:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "scripted failure"}}')
            return
        content = auto_synthesis(body) if script.get("auto") else script.get("content")
        message = {"role": "assistant", "content": content}
        calls = script.get("tool_calls", [])
        if calls:
            message["tool_calls"] = [{"id": f"call_{i}", "type": "function", "function": c} for i, c in enumerate(calls)]
        answer = json.dumps({"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
                             "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
# Written atomically: readers poll for the file and must never see it empty.
with open(port_file + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
