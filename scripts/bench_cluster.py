#!/usr/bin/env python3
"""Several daemons on one PostgreSQL under load, against one daemon on SQLite.

Three daemons (release build) share a real PostgreSQL (initdb in a temp dir); SESSIONS sessions are
started at once, spread round-robin over them, and WATCHERS SSE clients (spread over every daemon,
so most watch a session another daemon runs) follow them to the end. Prints: sessions completed,
errors, events delivered in order (every watcher sees 1..n with no gap or repeat), and POST → first
finding as the watchers saw it — then the same load on one daemon with SQLite.
Not a test: nothing here passes or fails.

usage: bench_cluster.py BIN_DIR [SESSIONS] [WATCHERS]
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from bench_e2e import Postgres, free_port, as_postgres  # noqa: E402

CONFIG = """server: {{diagnose_rate_per_minute: 100000, diagnose_rate_per_minute_total: 1000000, max_open_sessions: 5000, max_open_sessions_per_identity: 5000, max_connections: 4000}}
runners: {{max_concurrent: 16}}
{storage}
environments:
  prod:
    checks:
      - {{name: disk, domain: host, command: sh, args: ["-c", "echo checked"]}}
"""


def start(bin_dir, root, name, storage):
    port = free_port()
    directory = os.path.join(root, name)
    os.makedirs(directory)
    config = os.path.join(directory, "config.yaml")
    with open(config, "w") as f:
        f.write(CONFIG.format(storage=storage))
    process = subprocess.Popen([f"{bin_dir}/sre-diagnosed", "--config", config, "--listen", f"127.0.0.1:{port}",
                                "--state-directory", os.path.join(directory, "state"), "--log-target", "stderr"],
                               stdout=subprocess.DEVNULL, stderr=open(os.path.join(directory, "daemon.log"), "w"))
    for _ in range(400):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{name} did not start: " + open(os.path.join(directory, "daemon.log")).read()[-2000:])


def post(port, problem):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/diagnose", method="POST",
                                     data=json.dumps({"problem": problem, "environment": "prod"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["session_id"]


def watch(port, session_id, started, result):
    """Follows one session's SSE stream to its end; records ids, first finding time, end status."""
    ids, first, status, error = [], None, None, None
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=120)
        s.sendall(f"GET /sessions/{session_id}/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n".encode())
        buffer, headers_done = b"", False
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buffer += chunk
            if not headers_done:
                if b"\r\n\r\n" not in buffer:
                    continue
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                if b" 200 " not in head.split(b"\r\n")[0]:
                    error = head.split(b"\r\n")[0].decode()
                    break
                headers_done = True
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                kind = None
                for line in block.split(b"\n"):
                    if line.startswith(b"id: "):
                        ids.append(int(line[4:]))
                    elif line.startswith(b"event: "):
                        kind = line[7:].decode()
                    elif line.startswith(b"data: ") and kind == "status":
                        status = json.loads(line[6:]).get("data", {}).get("status")
                if kind == "finding" and first is None:
                    first = time.perf_counter() - started[session_id]
        s.close()
    except OSError as failure:
        error = str(failure)
    result.append({"ids": ids, "first": first, "status": status, "error": error})


def load(ports, sessions, watchers):
    started, ids, errors = {}, [], 0
    lock = threading.Lock()

    def start_one(index):
        nonlocal errors
        port = ports[index % len(ports)]
        try:
            t = time.perf_counter()
            session_id = post(port, f"disk full on host {index}")
            with lock:
                started[session_id] = t
                ids.append(session_id)
        except OSError:
            with lock:
                errors += 1

    threads = [threading.Thread(target=start_one, args=(i,)) for i in range(sessions)]
    begin = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = []
    watcher_threads = []
    for index in range(watchers):
        session_id = ids[index % len(ids)]
        # Spread over the daemons, shifted so most watchers are not on the session's own daemon.
        port = ports[(index + 1) % len(ports)]
        thread = threading.Thread(target=watch, args=(port, session_id, started, results))
        thread.start()
        watcher_threads.append(thread)
    for t in watcher_threads:
        t.join()
    elapsed = time.perf_counter() - begin
    in_order = sum(1 for r in results if r["ids"] and r["ids"] == list(range(1, len(r["ids"]) + 1)))
    completed = len({sid for sid, r in zip([ids[i % len(ids)] for i in range(watchers)], results) if r["status"] == "completed"})
    firsts = sorted(r["first"] * 1000 for r in results if r["first"] is not None)
    return {
        "sessions": len(ids), "post_errors": errors, "watchers": len(results),
        "watch_errors": sum(1 for r in results if r["error"]), "in_order": in_order,
        "completed_sessions": completed, "first_p50": statistics.median(firsts) if firsts else 0,
        "first_p95": firsts[int(len(firsts) * 0.95) - 1] if firsts else 0, "seconds": elapsed,
    }


def report(name, numbers):
    print(f"{name:28s} sessions {numbers['sessions']} (POST errors {numbers['post_errors']}), completed {numbers['completed_sessions']}; "
          f"watchers {numbers['watchers']}: errors {numbers['watch_errors']}, every event once and in order {numbers['in_order']}; "
          f"POST→first finding p50 {numbers['first_p50']:.0f} ms, p95 {numbers['first_p95']:.0f} ms; all done in {numbers['seconds']:.1f} s")


def main():
    sys.stdout.reconfigure(line_buffering=True)
    bin_dir = sys.argv[1]
    sessions = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    watchers = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    root = tempfile.mkdtemp(prefix="sre-bench-cluster-")
    os.chmod(root, 0o755)
    daemons = []
    pg = None
    try:
        pg = Postgres(root, max_connections=100)
        pg.psql("CREATE DATABASE sre OWNER app")
        password = os.path.join(root, "store.password")
        with open(password, "w") as f:
            f.write(pg.password)
        storage = (f"storage: {{backend: postgres, postgres: {{host: 127.0.0.1, port: {pg.port}, database: sre, user: app, "
                   f"credential: \"file://{password}\", lease: 10s}}}}")
        ports = []
        for name in ("a", "b", "c"):
            process, port = start(bin_dir, root, name, storage)
            daemons.append(process)
            ports.append(port)
        report("3 daemons, one PostgreSQL", load(ports, sessions, watchers))
        for process in daemons:
            process.terminate()
            process.wait()
        daemons = []
        process, port = start(bin_dir, root, "single", "")
        daemons.append(process)
        report("1 daemon, SQLite", load([port], sessions, watchers))
    finally:
        for process in daemons:
            process.terminate()
            process.wait()
        if pg:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
