#!/usr/bin/env python3
"""Drive headless Chromium over the DevTools protocol (--remote-debugging-pipe, stdlib only).

usage: cdp_drive.py CHROMIUM URL STEPS_JSON
STEPS_JSON is a list of steps run in order on the page:
  {"eval": "js"}                      evaluate (awaits promises); result printed
  {"wait": "js", "timeout": 10}       poll until the expression is truthy
  {"screenshot": "/path.png"}         capture the page
Prints one JSON line per step; exits 1 on a failed wait or a JS exception.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

chromium, url, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()
profile = tempfile.mkdtemp(prefix="cdp-")


def child_setup():
    # Chromium reads commands on fd 3 and answers on fd 4. Duplicate first: the pipe ends may
    # themselves be 3 or 4.
    read_end, write_end = os.dup(to_chrome_r), os.dup(from_chrome_w)
    os.dup2(read_end, 3)
    os.dup2(write_end, 4)


proc = subprocess.Popen(
    [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1366,900",
     "--remote-debugging-pipe", "--user-data-dir=" + profile, "about:blank"],
    # close_fds would run after preexec_fn and close 3 and 4 again; the other pipe ends are
    # close-on-exec anyway.
    close_fds=False, preexec_fn=child_setup,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
os.close(to_chrome_r)
os.close(from_chrome_w)
reader = os.fdopen(from_chrome_r, "rb")
writer = os.fdopen(to_chrome_w, "wb")
buffer = b""
next_id = 0


def send(method, params=None, session=None):
    global next_id, buffer
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    writer.write(json.dumps(message).encode() + b"\0")
    writer.flush()
    while True:
        while b"\0" not in buffer:
            chunk = os.read(reader.fileno(), 65536)
            if not chunk:
                raise SystemExit("chromium closed the pipe")
            buffer += chunk
        raw, buffer = buffer.split(b"\0", 1)
        reply = json.loads(raw)
        if reply.get("id") == next_id:
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply.get("result", {})


def evaluate(session, expression):
    result = send("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, session)
    if "exceptionDetails" in result:
        raise RuntimeError(result["exceptionDetails"].get("exception", {}).get("description", "JS exception"))
    return result.get("result", {}).get("value")


status = 0
try:
    target = send("Target.createTarget", {"url": url})["targetId"]
    session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    send("Page.enable", session=session)
    deadline = time.time() + 15
    while evaluate(session, "document.readyState") != "complete" and time.time() < deadline:
        time.sleep(0.1)
    for step in steps:
        if "eval" in step:
            print(json.dumps({"eval": step["eval"][:60], "value": evaluate(session, step["eval"])}), flush=True)
        elif "wait" in step:
            end = time.time() + step.get("timeout", 10)
            ok = False
            while time.time() < end:
                try:
                    if evaluate(session, step["wait"]):
                        ok = True
                        break
                except RuntimeError:
                    pass
                time.sleep(0.1)
            print(json.dumps({"wait": step["wait"][:60], "ok": ok}), flush=True)
            if not ok:
                print(json.dumps({"dom": evaluate(session, "document.body.innerText")[:4000]}), flush=True)
                status = 1
                break
        elif "screenshot" in step:
            data = send("Page.captureScreenshot", {"format": "png"}, session)["data"]
            with open(step["screenshot"], "wb") as handle:
                handle.write(base64.b64decode(data))
            print(json.dumps({"screenshot": step["screenshot"]}), flush=True)
except Exception as error:  # report, then clean up
    print(json.dumps({"error": str(error)}), flush=True)
    status = 1
finally:
    proc.kill()
    proc.wait()
sys.exit(status)
