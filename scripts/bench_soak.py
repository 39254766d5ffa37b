#!/usr/bin/env python3
"""Memory under steady load: a real daemon (release build) gets one diagnosis per second (a
quick host check and a refused TCP port, so runners really run) and ten status polls per
second, for N minutes. Prints the daemon's RSS and anonymous memory (RssAnon) every minute, and
the growth from the end of the first minute (warm-up) to the end. Not a test.

usage: bench_soak.py BIN_DIR [--minutes N]
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory(pid):
    values = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0), values.get("RssAnon", 0)


def main():
    bin_dir = sys.argv[1]
    minutes = 10
    if "--minutes" in sys.argv:
        minutes = int(sys.argv[sys.argv.index("--minutes") + 1])
    root = tempfile.mkdtemp(prefix="sre-bench-soak-")
    port = free_port()
    with open(f"{root}/config.yaml", "w") as handle:
        handle.write("""server: {diagnose_rate_per_minute: 100000, diagnose_rate_per_minute_total: 100000}
storage: {retention_days: 1}
environments:
  local:
    network: {endpoints: ["tcp://127.0.0.1:1"]}
    checks: [{name: quick, domain: host, command: "true"}]
""")
    daemon = subprocess.Popen([f"{bin_dir}/sre-diagnosed", "--config", f"{root}/config.yaml", "--state-directory", f"{root}/state",
                               "--listen", f"127.0.0.1:{port}", "--log-target", "stderr"], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        stop = threading.Event()
        sessions, errors = [], [0]

        def diagnose():
            while not stop.is_set():
                began = time.time()
                try:
                    request = urllib.request.Request(f"{base}/diagnose", data=json.dumps({"problem": "soak", "environment": "local"}).encode(),
                                                     headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        sessions.append(json.load(answer)["session_id"])
                except Exception:
                    errors[0] += 1
                stop.wait(max(0, 1 - (time.time() - began)))

        def poll():
            while not stop.is_set():
                if sessions:
                    try:
                        urllib.request.urlopen(f"{base}/status/{sessions[-1]}", timeout=10).read()
                    except Exception:
                        errors[0] += 1
                stop.wait(0.1)

        threads = [threading.Thread(target=diagnose)] + [threading.Thread(target=poll)]
        for thread in threads:
            thread.start()
        rss0, anon0 = memory(daemon.pid)
        print(f"minute 0: RSS {rss0:.1f} MB, anonymous {anon0:.1f} MB")
        after_warmup = None
        for minute in range(1, minutes + 1):
            time.sleep(60)
            rss, anon = memory(daemon.pid)
            print(f"minute {minute}: RSS {rss:.1f} MB, anonymous {anon:.1f} MB, sessions {len(sessions)}, errors {errors[0]}", flush=True)
            if minute == 1:
                after_warmup = (rss, anon)
        stop.set()
        for thread in threads:
            thread.join()
        if after_warmup and minutes > 1:
            rss, anon = memory(daemon.pid)
            print(f"growth after the first minute: RSS {rss - after_warmup[0]:+.1f} MB ({(rss / after_warmup[0] - 1) * 100:+.1f} %), "
                  f"anonymous {anon - after_warmup[1]:+.1f} MB ({(anon / after_warmup[1] - 1) * 100:+.1f} %)")
    finally:
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
