#!/usr/bin/env python3
"""Memory under steady load: a real daemon (release build) gets one diagnosis per second (a
quick host check and a refused TCP port, so runners really run) and ten status polls per
second, for N minutes. Prints the daemon's RSS and anonymous memory (RssAnon) every minute with
the bounded caches /metrics reports (finished answers, SQLite's memory), then the growth to the
end from the first minute, and from the minute the caches were within 2 % of their final size
(the caches filling is warm-up; anything else growing is not). Not a test.

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


def caches(base):
    """The bounded caches /metrics reports, in MB: finished answers, and SQLite's own memory."""
    values = {}
    try:
        for line in urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode().splitlines():
            name, _, value = line.partition(" ")
            if name in ("sre_answer_cache_bytes", "sre_store_memory_bytes"):
                values[name] = float(value) / 1e6
    except OSError:
        pass
    return values.get("sre_answer_cache_bytes", 0.0), values.get("sre_store_memory_bytes", 0.0)


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
        samples = []  # (minute, rss, anon, bounded caches in MB)
        for minute in range(1, minutes + 1):
            time.sleep(60)
            rss, anon = memory(daemon.pid)
            answers, store = caches(base)
            samples.append((minute, rss, anon, answers + store))
            print(f"minute {minute}: RSS {rss:.1f} MB, anonymous {anon:.1f} MB, sessions {len(sessions)}, errors {errors[0]}; "
                  f"bounded caches: answers {answers:.2f} MB, SQLite {store:.2f} MB", flush=True)
        stop.set()
        for thread in threads:
            thread.join()
        if minutes > 1:
            def growth(start, label):
                _, rss1, anon1, caches1 = start
                _, rss, anon, caches2 = samples[-1]
                print(f"growth {label}: RSS {rss - rss1:+.1f} MB ({(rss / rss1 - 1) * 100:+.1f} %), "
                      f"anonymous {anon - anon1:+.1f} MB ({(anon / anon1 - 1) * 100:+.1f} %); the bounded caches {caches2 - caches1:+.2f} MB")
            growth(samples[0], "after the first minute")
            # Warm-up ends when the bounded caches (/metrics) are within 2 % of their final size.
            full = next(sample for sample in samples if sample[3] >= 0.98 * samples[-1][3])
            if full is not samples[-1]:
                growth(full, f"after the caches filled (minute {full[0]})")
    finally:
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
