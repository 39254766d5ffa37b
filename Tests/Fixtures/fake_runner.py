#!/usr/bin/env python3
"""A misbehaving stand-in for sre-diagnose-runner, speaking the real wire protocol
(4-byte big-endian length + JSON). Used to test that the daemon survives bad runners.

usage: fake_runner.py MODE
  wrong_token  hello with a token that was never issued
  other_pid    a forked child says hello with the right token (pid mismatch)
  hang         proper hello, then ignores the job, cancel frames and SIGTERM
  garbage      proper hello, then a frame that is not JSON
  oversize     proper hello, then a header announcing a 2 GiB frame
"""
import json
import os
import signal
import socket
import struct
import sys
import time


def frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.environ["SRE_RUNNER_SOCKET"])
    return s


def hello(token):
    body = {"v": 1, "type": "hello", "runner_id": os.environ["SRE_RUNNER_ID"], "token": token, "pid": os.getpid(), "version": "fake"}
    if os.environ.get("SRE_RUNNER_DOMAIN"):
        body["domain"] = os.environ["SRE_RUNNER_DOMAIN"]
    return frame(body)


def read_all(s):
    chunks = b""
    while True:
        try:
            data = s.recv(65536)
        except OSError:
            break
        if not data:
            break
        chunks += data
    return chunks


mode = sys.argv[1]
token = os.environ["SRE_RUNNER_TOKEN"]

if mode == "wrong_token":
    s = connect()
    s.sendall(hello("0" * 64))
    reply = read_all(s)
    sys.stderr.write("fake runner got: %r\n" % reply[4:])
    sys.exit(5)
elif mode == "other_pid":
    pid = os.fork()
    if pid == 0:
        s = connect()
        s.sendall(hello(token))
        reply = read_all(s)
        sys.stderr.write("fake runner child got: %r\n" % reply[4:])
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(30)
elif mode == "hang":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    s = connect()
    s.sendall(hello(token))
    while True:
        time.sleep(1)
elif mode == "garbage":
    s = connect()
    s.sendall(hello(token))
    s.sendall(struct.pack(">I", 9) + b"not json!")
    reply = read_all(s)
    sys.stderr.write("fake runner got: %r\n" % reply)
    time.sleep(30)
elif mode == "oversize":
    s = connect()
    s.sendall(hello(token))
    s.sendall(struct.pack(">I", 0x7FFFFFFF) + b"{")
    read_all(s)
    time.sleep(30)
else:
    sys.exit(64)
