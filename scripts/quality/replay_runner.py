#!/usr/bin/env python3
"""A runner that replays what the probes would observe in one incident scenario.

The daemon starts it as its sre-diagnose-runner (runners.executable) and it speaks the real wire
protocol (4-byte big-endian length + JSON): hello with its one-time token, the job, one finding
per recorded observation of each planned probe, done. A planned probe with nothing recorded
reports a healthy result, as a real probe on a healthy component would; an observation whose
probe was not planned is never seen — the planner is measured too.

usage: replay_runner.py SCENARIOS_JSON SESSIONS_JSON   (the daemon passes --runner-id/--domain)
SESSIONS_JSON maps each session id to its scenario (the driver writes it as it starts sessions).
"""
import datetime
import json
import os
import socket
import struct
import sys
import time


def frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data


def read_frame(sock, buffer):
    while True:
        if len(buffer) >= 4:
            size = struct.unpack(">I", buffer[:4])[0]
            if len(buffer) >= 4 + size:
                return json.loads(buffer[4:4 + size]), buffer[4 + size:]
        chunk = sock.recv(65536)
        if not chunk:
            return None, buffer
        buffer += chunk


def stamp(minutes_ago):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def finding(observation, domain, probe, index):
    evidence = []
    for item in observation.get("evidence", []):
        if "text" in item:
            evidence.append({"label": item["label"], "text": item["text"]})
        else:
            rows = [[stamp(cell["ago"]) if isinstance(cell, dict) else str(cell) for cell in row] for row in item["rows"]]
            evidence.append({"label": item["label"], "columns": item["columns"], "rows": rows})
    if "first_seen" in observation:
        count = str(observation.get("count", 1))
        evidence.append({"label": "occurrences", "columns": ["count", "first seen", "last seen", "sources"],
                         "rows": [[count, stamp(observation["first_seen"]), stamp(0.2), observation["target"]]]})
    return {
        "id": "%s-%d" % (domain, index), "domain": domain, "probe": probe, "code": observation["code"],
        "target": observation["target"], "severity": observation["severity"], "title": observation["title"],
        "detail": observation.get("detail", ""), "evidence": evidence, "remediation": observation.get("remediation", ""),
        "tags": observation.get("tags", []), "observed_at": stamp(0),
    }


HEALTHY = {"database": "db.ok", "network": "net.ok", "host": "host.ok", "logs": "logs.ok", "kubernetes": "k8s.ok", "cloud": "aws.ok"}


def main():
    scenarios_path, sessions_path = sys.argv[1], sys.argv[2]
    with open(scenarios_path) as handle:
        scenarios = json.load(handle)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ["SRE_RUNNER_SOCKET"])
    # A warm runner is started before its job: the domain, when known, is in the environment;
    # the job always names it.
    hello = {"v": 1, "type": "hello", "runner_id": os.environ["SRE_RUNNER_ID"], "token": os.environ["SRE_RUNNER_TOKEN"],
             "pid": os.getpid(), "version": "replay"}
    if os.environ.get("SRE_RUNNER_DOMAIN"):
        hello["domain"] = os.environ["SRE_RUNNER_DOMAIN"]
    sock.sendall(frame(hello))
    job, _ = read_frame(sock, b"")
    if job is None or job.get("type") != "job":
        sys.exit(3)
    domain = job["domain"]
    # The driver records the session's scenario right after starting it; wait for that.
    scenario = None
    for _ in range(100):
        with open(sessions_path) as handle:
            name = json.load(handle).get(job["session_id"])
        if name:
            scenario = scenarios[name]
            break
        time.sleep(0.05)
    if scenario is None:
        sys.exit(4)
    outcomes, index, replayed = [], 0, set()
    for request in job["probes"]:
        probe = request["probe"]
        recorded = scenario["observations"].get(probe, []) if probe not in replayed else []
        # What the probe saw; a probe (or a further target of it) with nothing recorded is healthy.
        observations = recorded or [{"code": HEALTHY.get(domain, "net.ok"), "severity": "ok", "target": request["target"],
                                     "title": "%s on %s: fine" % (probe, request["target"])}]
        for observation in observations:
            index += 1
            sock.sendall(frame(dict({"v": 1, "type": "finding"}, **finding(observation, domain, probe, index))))
        replayed.add(probe)
        outcomes.append({"id": request["id"], "probe": probe, "status": "ok", "duration_ms": 1, "findings": len(observations)})
    sock.sendall(frame({"v": 1, "type": "done", "outcomes": outcomes, "duration_ms": 5}))
    sock.close()


main()
