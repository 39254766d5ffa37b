#!/usr/bin/env python3
"""Where an idle daemon's resident memory goes: /proc/PID/smaps summed by mapping (the binary,
each shared library, anonymous heap and stacks). Not a test.

usage: bench_memory.py BIN_DIR
"""
import collections
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smaps(pid):
    totals = collections.Counter()
    anonymous = collections.Counter()
    name = None
    with open(f"/proc/{pid}/smaps") as handle:
        for line in handle:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and not line.startswith(("Rss", "Pss")):
                name = fields[5] if len(fields) > 5 else "[anonymous]"
                name = os.path.basename(name) if name.startswith("/") else name
            elif fields[0] == "Rss:":
                totals[name] += int(fields[1])
            elif fields[0] == "Anonymous:":
                anonymous[name] += int(fields[1])
    return totals, anonymous


def main():
    bin_dir = sys.argv[1]
    root = tempfile.mkdtemp(prefix="sre-bench-mem-")
    port = free_port()
    daemon = subprocess.Popen([f"{bin_dir}/sre-diagnosed", "--state-directory", f"{root}/state", "--listen", f"127.0.0.1:{port}",
                               "--log-target", "stderr"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(2)
        totals, anonymous = smaps(daemon.pid)
        total = sum(totals.values())
        print(f"idle daemon RSS {total / 1024:.1f} MB (anonymous {sum(anonymous.values()) / 1024:.1f} MB), by mapping:")
        for name, kb in totals.most_common(14):
            print(f"  {kb / 1024:6.1f} MB  {name}" + (f"  (anonymous {anonymous[name] / 1024:.1f} MB)" if anonymous[name] else ""))
        with open(f"/proc/{daemon.pid}/status") as handle:
            threads = next(line.split()[1] for line in handle if line.startswith("Threads:"))
        print(f"  threads: {threads}")
    finally:
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
