#!/usr/bin/env python3
"""The metrics domain's time against its slowest query.

A real Prometheus (Debian's package) with 3 h of history for 10 signals backfilled by promtool, a
real daemon (release build) whose environment configures those 10 signals (built-in signals off),
and a diagnosis that examines only metrics. For each run: the metrics domain's duration, the
metrics.signals probe's duration, and — asked directly with urllib right after — each of the same
10 range queries' time: the slowest, and their sum. Prints medians. Not a test.

usage: bench_metrics.py BIN_DIR [RUNS]
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

KINDS = ["error_ratio", "latency_p99", "traffic"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def signals():
    """(service, kind, metric) for 10 signals: 3 services × 3 kinds + one saturation."""
    result = [(f"svc{s}", kind, f"bench_{kind}") for s in range(3) for kind in KINDS]
    result.append(("svc0", "saturation", "bench_saturation"))
    return result


def history(now):
    lines = []
    for metric in sorted({m for _, _, m in signals()}):
        lines.append(f"# TYPE {metric} gauge")
        for s in range(3):
            t = now - 10800
            while t <= now - 2:
                value = 0.5 + (int(t) % 7) * 0.01 + (2 if t > now - 900 and s == 1 else 0)
                lines.append(f'{metric}{{service="svc{s}"}} {value} {t:.3f}')
                t += 15
    return "\n".join(lines) + "\n# EOF\n"


def main():
    bin_dir = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    work = tempfile.mkdtemp(prefix="sre-bench-metrics-")
    processes = []
    try:
        now = time.time()
        with open(f"{work}/history.om", "w") as handle:
            handle.write(history(now))
        os.makedirs(f"{work}/data")
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", f"{work}/history.om", f"{work}/data"], check=True, stdout=subprocess.DEVNULL)
        with open(f"{work}/prometheus.yml", "w") as handle:
            handle.write("global: {scrape_interval: 15s}\n")
        prom_port = free_port()
        processes.append(subprocess.Popen(["prometheus", f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/data",
                                           f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"], stderr=subprocess.DEVNULL))
        prom = f"http://127.0.0.1:{prom_port}"
        wait_http(f"{prom}/-/ready")

        services = {}
        for service, kind, metric in signals():
            services.setdefault(service, []).append(f"          {kind}: '{metric}{{service=\"{{service}}\"}}'")
        config = ["environments:", "  bench:", "    metrics:", "      prometheus:", f"        url: {prom}", "        builtin_signals: false", "        services:"]
        for service, entries in services.items():
            config.append(f"          {service}:")
            config += ["  " + entry for entry in entries]
        with open(f"{work}/config.yaml", "w") as handle:
            handle.write("\n".join(config) + "\n")
        port = free_port()
        processes.append(subprocess.Popen([f"{bin_dir}/sre-diagnosed", "--config", f"{work}/config.yaml", "--state-directory", f"{work}/state",
                                           "--listen", f"127.0.0.1:{port}", "--log-target", "stderr"], stderr=open(f"{work}/daemon.log", "w")))
        daemon = f"http://127.0.0.1:{port}"
        wait_http(f"{daemon}/health")

        rows = []
        for _ in range(runs):
            body = json.dumps({"problem": "error rate since this morning", "environment": "bench"}).encode()
            request = urllib.request.Request(f"{daemon}/diagnose", data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request) as answer:
                session = json.load(answer)["session_id"]
            while True:
                with urllib.request.urlopen(f"{daemon}/status/{session}") as answer:
                    if json.load(answer)["status"] in ("completed", "failed"):
                        break
                time.sleep(0.02)
            with urllib.request.urlopen(f"{daemon}/sessions/{session}/report") as answer:
                report = json.load(answer)
            domain = next(d for d in report["domains"] if d["domain"] == "metrics")
            probe = next(p for p in domain["probes"] if p["probe"] == "metrics.signals")
            end = time.time()
            step = 36
            times = []
            for service, kind, metric in signals():
                query = urllib.parse.urlencode({"query": f'{metric}{{service="{service}"}}', "start": end - 10800, "end": end, "step": step})
                started = time.perf_counter()
                with urllib.request.urlopen(f"{prom}/api/v1/query_range?{query}") as answer:
                    answer.read()
                times.append((time.perf_counter() - started) * 1000)
            rows.append((domain.get("duration_ms") or 0, probe["duration_ms"], max(times), sum(times), domain["findings"]))
        median = lambda i: statistics.median(r[i] for r in rows)
        print(f"metrics domain, 10 signal queries + alerts + targets, median of {runs} runs:")
        print(f"  domain (runner start → done): {median(0):.1f} ms")
        print(f"  metrics.signals probe:        {median(1):.1f} ms")
        print(f"  slowest single query (direct): {median(2):.1f} ms; all 10 one after another: {median(3):.1f} ms")
        print(f"  findings per run: {rows[0][4]}")
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
