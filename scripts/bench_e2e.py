#!/usr/bin/env python3
"""Orchestration overhead of a whole diagnosis, for the database scenarios.

For each scenario: a real PostgreSQL (initdb in a temp dir) set up with the fault, a real daemon
(release build) with real runners, and a client that POSTs /diagnose, follows the session's event
stream, approves the moment the approval request arrives, and stops at the report. Overhead =
(report time - POST time) - the slowest probe's own duration - the client's own approval turn-around.
Prints the median over the runs. Not a test: nothing here passes or fails.

usage: bench_e2e.py BIN_DIR [RUNS]
"""
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PG = "/usr/lib/postgresql/15/bin"
TOKEN = "bench-approver-token-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(args, **kw):
    return subprocess.run(["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + args, check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


class Postgres:
    def __init__(self, root, max_connections=20):
        self.dir = os.path.join(root, "pg")
        os.makedirs(self.dir)
        os.chmod(root, 0o755)
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.password = "bench-app-pw"
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write("postgres-pw\n")
        shutil.chown(pw, "postgres", "postgres")
        data = os.path.join(self.dir, "data")
        as_postgres([f"{PG}/initdb", "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                     f"--pwfile={pw}", "--no-sync", "-E", "UTF8", "--locale=C"])
        with open(os.path.join(data, "postgresql.auto.conf"), "w") as f:
            f.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                    f"max_connections = {max_connections}\nsuperuser_reserved_connections = 3\nfsync = off\n"
                    "log_min_messages = fatal\n")
        self.server = subprocess.Popen(["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups",
                                        f"{PG}/postgres", "-D", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if subprocess.run([f"{PG}/pg_isready", "-h", self.dir, "-p", str(self.port)], stdout=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.05)
        self.psql(f"CREATE ROLE app LOGIN PASSWORD '{self.password}'")
        self.psql("CREATE DATABASE orders OWNER app")
        self.holders = []

    def psql(self, sql, database="postgres"):
        as_postgres([f"{PG}/psql", "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", database, "-Atqc", sql])

    def hold(self, count):
        """Opens `count` sessions that sit in pg_sleep, holding their slots."""
        for _ in range(count):
            p = subprocess.Popen([f"{PG}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "app", "-d", "orders", "-Atq"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 env={**os.environ, "PGPASSWORD": self.password}, text=True)
            p.stdin.write("\\echo connected\nSELECT pg_sleep(600);\n")
            p.stdin.flush()
            p.stdout.readline()
            self.holders.append(p)

    def login_floor(self):
        """PostgreSQL's own client logging in (pgbench -C: libpq, a new connection per query):
        its average connection time, the floor under a probe's login here."""
        script = os.path.join(self.dir, "select1.sql")
        with open(script, "w") as f:
            f.write("SELECT 1;\n")
        out = subprocess.run([f"{PG}/pgbench", "-h", "127.0.0.1", "-p", str(self.port), "-U", "app", "-n", "-C", "-c1", "-T3", "-f", script, "orders"],
                             capture_output=True, text=True, env={**os.environ, "PGPASSWORD": self.password})
        match = re.search(r"average connection time = ([0-9.]+) ms", out.stdout)
        return float(match.group(1)) if match else None

    def stop(self):
        for p in self.holders:
            p.kill()
        if self.server:
            # Fast shutdown: a smart one would wait for the backends still in pg_sleep.
            self.server.send_signal(signal.SIGINT)
            self.server.wait()
            self.server = None


def start_daemon(bin_dir, root, pg, password, warm):
    port = free_port()
    token_file = os.path.join(root, "alice.token")
    with open(token_file, "w") as f:
        f.write(TOKEN)
    os.chmod(token_file, 0o600)
    # SRE_BENCH_RUNNER: another runner build to try against this daemon.
    runner = os.environ.get("SRE_BENCH_RUNNER")
    executable = f", executable: {runner}" if runner else ""
    with open(os.path.join(root, "config.yaml"), "w") as f:
        f.write(f"""secrets: {{allow_env_refs: true}}
server: {{diagnose_rate_per_minute: 100000}}
runners: {{warm: {warm}{executable}}}
auth: {{approvers: [{{name: alice, token: "file://{token_file}"}}]}}
environments:
  prod:
    database:
      - {{name: orders-db, host: 127.0.0.1, port: {pg.port}, database: orders, credential: "env://DB_LOGIN", tls: disable}}
""")
    env = {**os.environ, "DB_LOGIN": json.dumps({"username": "app", "password": password})}
    daemon = subprocess.Popen([f"{bin_dir}/sre-diagnosed", "--config", os.path.join(root, "config.yaml"), "--listen", f"127.0.0.1:{port}",
                               "--state-directory", os.path.join(root, "state"), "--log-target", "stderr"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    return daemon, port


LIBC = ctypes.CDLL(None, use_errno=True)


class AsDeveloper:
    """Sockets opened inside are owned by uid 65534 (setfsuid is per thread): the daemon sees the
    request come from another local account than the approver's, as it must — nobody approves
    their own request. Needs root, as the bench's PostgreSQL set-up does."""
    def __enter__(self):
        self.previous = LIBC.setfsuid(65534)

    def __exit__(self, *exc):
        LIBC.setfsuid(self.previous)


class Connections:
    """One kept-alive HTTP connection per caller — the developer's (opened as uid 65534) and the
    approver's — as the dashboard and an MCP client keep theirs: the bench measures the daemon,
    not a TCP handshake and the daemon's look-up of a new connection's owner per request."""
    def __init__(self, port):
        self.port = port
        self.open = {}

    def post(self, path, body, token=None):
        key = token or "developer"
        for attempt in (0, 1):
            connection = self.open.get(key)
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                if token is None:
                    with AsDeveloper():
                        connection.connect()
                else:
                    connection.connect()
                self.open[key] = connection
            headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
            try:
                connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                # The daemon closed an idle connection: open a new one once.
                connection.close()
                del self.open[key]
                if attempt:
                    raise
                continue
            if response.status >= 300:
                raise SystemExit(f"POST {path}: HTTP {response.status}: {data.decode()}")
            return json.loads(data)

    def close(self):
        for connection in self.open.values():
            connection.close()
        self.open.clear()


def events(port, session_id):
    """Yields (type, data) from the session's SSE stream until it closes."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /sessions/{session_id}/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n".encode())
    buffer = b""
    headers_done = False
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return
        buffer += chunk
        if not headers_done:
            if b"\r\n\r\n" not in buffer:
                continue
            buffer = buffer.split(b"\r\n\r\n", 1)[1]
            headers_done = True
        # Chunked transfer: the chunk-size lines are not "event:"/"data:" lines, so they are skipped.
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            kind, data = None, None
            for line in block.split(b"\n"):
                if line.startswith(b"event: "):
                    kind = line[7:].decode()
                elif line.startswith(b"data: "):
                    data = json.loads(line[6:])
            if kind:
                yield kind, data
                if kind == "report":
                    s.close()
                    return


def run_once(port, problem, client):
    start = time.perf_counter()
    accepted = client.post("/diagnose", {"problem": problem, "environment": "prod", "context": {"service": "api-gateway"}})
    approval_turnaround = 0.0
    report = None
    first_finding = None
    login = None
    timeline = []
    for kind, data in events(port, accepted["session_id"]):
        timeline.append((time.perf_counter() - start, kind, data))
        if kind == "approval_requested":
            seen = time.perf_counter()
            client.post(f"/approve/{accepted['session_id']}", {"approved": True}, TOKEN)
            approval_turnaround = time.perf_counter() - seen
        elif kind == "runner_log" and login is None:
            # The probe's own login time: the floor under a first finding that needs a query.
            match = re.search(r"logged in to .* in ([0-9.]+) ms", ((data or {}).get("data") or {}).get("message", ""))
            login = float(match.group(1)) if match else None
        elif kind == "finding" and first_finding is None:
            first_finding = time.perf_counter() - start - approval_turnaround
        elif kind == "report":
            report = data["data"]  # the stream carries event envelopes: {seq, at, type, data}
    total = time.perf_counter() - start
    probes = [p.get("duration_ms", 0) for d in report.get("domains", []) for p in d.get("probes", [])]
    slowest = max(probes, default=0) / 1000
    top = (report.get("probable_causes") or [{}])[0].get("codes", ["-"])[0]
    # The daemon's own share, by its own clock: session start → report ranked, less the wait for
    # the human and the slowest probe (no HTTP, no SSE, no client).
    timings = report.get("timings") or {}
    inside = (timings.get("total_ms", 0) - timings.get("approval_wait_ms", 0)) / 1000 - slowest
    if TIMELINE:
        print_timeline(timeline, approval_turnaround)
        print(f"  report timings: {report.get('timings')}")
    return total, slowest, approval_turnaround, top, first_finding or 0.0, inside, login


def print_timeline(timeline, turnaround):
    """One run's events: when the client saw each (ms after the POST) and the daemon's gap since
    the previous event's own timestamp."""
    from datetime import datetime
    previous = None
    print(f"  timeline (client approval turn-around {turnaround * 1000:.1f} ms):")
    for seen, kind, data in timeline:
        at = datetime.fromisoformat(data["at"].replace("Z", "+00:00")).timestamp() if data and "at" in data else None
        gap = f"+{(at - previous) * 1000:5.1f}" if at is not None and previous is not None else "     "
        previous = at if at is not None else previous
        body = (data or {}).get("data") or {}
        detail = body.get("state") or body.get("probe") or body.get("code") or ""
        print(f"    seen {seen * 1000:6.1f} ms  daemon {gap} ms  {kind} {detail}")


def scenario(bin_dir, name, runs, setup, password_for, warm):
    root = tempfile.mkdtemp(prefix=f"sre-bench-e2e-{name}-")
    pg = Postgres(root, max_connections=8 if name == "saturated" else 20)
    daemon = None
    try:
        setup(pg)
        daemon, port = start_daemon(bin_dir, root, pg, password_for(pg), warm)
        client = Connections(port)
        run_once(port, "Database connection failures in production", client)  # warm-up: first spawn pages in binaries
        totals, overheads, firsts, insides, logins, tops = [], [], [], [], [], set()
        for _ in range(runs):
            # Give the pool time to refill, as between real incidents.
            time.sleep(0.3 if warm else 0)
            total, slowest, turnaround, top, first, inside, login = run_once(port, "Database connection failures in production", client)
            if login is not None:
                logins.append(login)
            insides.append(inside * 1000)
            totals.append(total * 1000)
            overheads.append((total - slowest - turnaround) * 1000)
            firsts.append(first * 1000)
            tops.add(top)
        login = f"{statistics.median(logins):5.1f}" if logins else "    -"
        floor = pg.login_floor() if logins else None
        print(f"warm={warm} {name:10s} top {','.join(sorted(tops)):26s} total {statistics.median(totals):7.1f} ms  "
              f"first finding {statistics.median(firsts):6.1f} ms (probe's login {login})  overhead {statistics.median(overheads):6.1f} ms "
              f"(min {min(overheads):.1f}, max {max(overheads):.1f}; in the daemon {statistics.median(insides):.1f}; medians of {runs})")
        if floor is not None:
            print(f"           PostgreSQL's own client, pgbench -C (libpq): average connection time {floor:.1f} ms")
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


TIMELINE = False


def main():
    global TIMELINE
    sys.stdout.reconfigure(line_buffering=True)
    args = sys.argv[1:]
    if "--timeline" in args:
        # One warm run of the healthy scenario, event by event.
        args.remove("--timeline")
        TIMELINE = True
        scenario(args[0], "healthy", 1, lambda pg: None, lambda pg: pg.password, 2)
        return
    bin_dir = args[0]
    runs = int(args[1]) if len(args) > 1 else 21
    print("overhead = POST→report − slowest probe − client approval turn-around (target ≤ 10 ms);")
    print("first finding = POST→first finding event − client approval turn-around (target ≤ 10 ms); probe's login =")
    print("  the database probe's own PostgreSQL login (its runner log), which a finding that needs a query waits for")
    print("in the daemon = the report's own timings: total − approval wait − slowest probe (no HTTP, SSE or client)")
    for warm in (0, 2):
        scenario(bin_dir, "healthy", runs, lambda pg: None, lambda pg: pg.password, warm)
        scenario(bin_dir, "saturated", runs, lambda pg: pg.hold(5), lambda pg: pg.password, warm)
        scenario(bin_dir, "auth", runs, lambda pg: None, lambda pg: "rotated-away", warm)
        scenario(bin_dir, "down", runs, lambda pg: pg.stop(), lambda pg: pg.password, warm)


if __name__ == "__main__":
    main()
