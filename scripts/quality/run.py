#!/usr/bin/env python3
"""Runs the incident scenarios (scenarios.py) through the real daemon and scores the reports.

The daemon plans each problem with its real planner and playbooks, runs one runner per planned
domain — here a runner that replays what the probes would observe in that incident
(replay_runner.py, the real wire protocol) — and ranks with its real synthesizer. Scored: is the
expected cause the first probable cause (top 1), among the first three (top 3); on the healthy
baselines, is any finding high or critical (false high).

usage: run.py --bin DIR [--json] [--verbose]
Prints `quality: top1 a/N, top3 b/N, baseline false-high c`; with --json, a JSON summary too.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from scenarios import BASELINES, INVENTORY, SCENARIOS  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--only", help="run one scenario and print its report's causes")
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="sre-quality-")
    everything = [s for s in SCENARIOS + BASELINES if not args.only or s["id"] == args.only]
    scenarios = {s["id"]: {"observations": s["observations"]} for s in everything}
    with open(os.path.join(directory, "scenarios.json"), "w") as handle:
        json.dump(scenarios, handle)
    sessions_path = os.path.join(directory, "sessions.json")
    with open(sessions_path, "w") as handle:
        json.dump({}, handle)
    runner = os.path.join(directory, "runner.sh")
    with open(runner, "w") as handle:
        handle.write(f"#!/bin/sh\nexec /usr/bin/python3 {HERE}/replay_runner.py {directory}/scenarios.json {sessions_path} \"$@\"\n")
    os.chmod(runner, 0o755)
    config = {
        "server": {"diagnose_rate_per_minute": 100000, "diagnose_rate_per_minute_total": 100000, "max_open_sessions_per_identity": 1000},
        "runners": {"executable": runner, "deadline": "30s"},
        "environments": {s["id"]: INVENTORY for s in everything},
    }
    with open(os.path.join(directory, "config.yaml"), "w") as handle:
        json.dump(config, handle)  # YAML is a superset of JSON
    port = free_port()
    log = open(os.path.join(directory, "daemon.log"), "w")
    daemon = subprocess.Popen([os.path.join(args.bin, "sre-diagnosed"), "--config", os.path.join(directory, "config.yaml"),
                               "--listen", f"127.0.0.1:{port}", "--state-directory", os.path.join(directory, "state"), "--log-target", "stderr"],
                              stdout=log, stderr=log)
    results = []
    try:
        for _ in range(200):
            try:
                call(port, "GET", "/health")
                break
            except OSError:
                if daemon.poll() is not None:
                    break
                time.sleep(0.05)
        else:
            pass
        if daemon.poll() is not None:
            log.flush()
            sys.stderr.write("the daemon did not start:\n" + open(os.path.join(directory, "daemon.log")).read())
            sys.exit(1)
        for scenario in everything:
            accepted = call(port, "POST", "/diagnose", {"problem": scenario["problem"], "environment": scenario["id"], "context": scenario.get("context") or None})
            session = accepted["session_id"]
            with open(sessions_path) as handle:
                mapping = json.load(handle)
            mapping[session] = scenario["id"]
            with open(sessions_path + ".tmp", "w") as handle:
                json.dump(mapping, handle)
            os.replace(sessions_path + ".tmp", sessions_path)
            status = {}
            for _ in range(600):
                status = call(port, "GET", f"/status/{session}")
                if status["status"] in ("completed", "failed", "expired", "cancelled", "interrupted"):
                    break
                time.sleep(0.05)
            report = call(port, "GET", f"/sessions/{session}/report") if status.get("report_available") else {}
            causes = [c["codes"][0] for c in report.get("probable_causes", []) if c.get("codes")]
            if args.only:
                print(json.dumps({"plan": status.get("plan", {}).get("rationale"), "causes": [(c["title"], c["codes"], c.get("reasons")) for c in report.get("probable_causes", [])]}, indent=1))
            loud = [f["code"] for f in report.get("findings", []) if f.get("severity") in ("high", "critical")]
            results.append({"id": scenario["id"], "expect": scenario.get("expect"), "ranked": causes[:5], "high": loud,
                            "status": status.get("status"), "first": (report.get("probable_causes") or [{}])[0].get("title", "")})
    finally:
        daemon.terminate()
        daemon.wait(timeout=15)
        log.close()

    incidents = [r for r in results if r["expect"]]
    baselines = [r for r in results if not r["expect"]]
    top1 = sum(1 for r in incidents if r["ranked"][:1] == [r["expect"]])
    top3 = sum(1 for r in incidents if r["expect"] in r["ranked"][:3])
    false_high = sum(1 for r in baselines if r["high"])
    for r in results:
        if r["expect"]:
            mark = "ok " if r["ranked"][:1] == [r["expect"]] else ("top3" if r["expect"] in r["ranked"][:3] else "MISS")
            if args.verbose or mark != "ok ":
                print(f"  {mark} {r['id']}: expected {r['expect']}, ranked {', '.join(r['ranked'][:3]) or 'nothing'} ({r['status']})")
        elif r["high"] or args.verbose:
            print(f"  {'HIGH' if r['high'] else 'ok  '} {r['id']}: high/critical {', '.join(r['high']) or 'none'}")
    print(f"quality: top1 {top1}/{len(incidents)}, top3 {top3}/{len(incidents)}, baseline false-high {false_high}")
    if args.json:
        print(json.dumps({"incidents": len(incidents), "top1": top1, "top3": top3, "baselines": len(baselines), "false_high": false_high, "results": results}))
    shutil.rmtree(directory, ignore_errors=True)


main()
