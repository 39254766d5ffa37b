"""Incidents as they present in practice, for scripts/bench quality.

Each scenario is what an on-call engineer types (problem, context) and what the probes would
observe in that incident: the fault itself, its symptoms as clients and logs report them, and
red herrings that are really there (a steady warning background, an unrelated failing job, a
certificate that expires next month, a busy host, the late nightly backup). `expect` is the
finding code of the real cause; the baselines expect nothing high.

Written from how these incidents look, not from the ranking rules: a scenario that fails shows a
ranking (or a plan) that only works on its own examples.
"""

# The organisation's production inventory: every scenario runs against it, the planner picks.
# (No credential references: approval is not what is measured here, and the replayed probes
# need none.)
INVENTORY = {
    "database": [
        {"name": "orders-db", "host": "orders-db.internal", "port": 5432, "database": "orders"},
    ],
    "network": {"endpoints": [
        "https://shop.example.com/healthz", "tcp://orders-db.internal:5432", "dns://orders-db.internal?expect=10.0.1.7",
        "tls://api.partner.example:443", "https://api.payments-provider.example/v1/health",
    ]},
    "logs": {"journald": {"units": ["checkout-api.service", "billing.service"]}, "files": ["/var/log/shop/*.log"]},
    "host": {},
    "kubernetes": {"kubeconfig": "/etc/sre-diagnose/kubeconfig", "namespaces": ["shop", "payments"]},
    "cloud": {"aws": {"region": "eu-west-1", "log_groups": ["/shop/api"]}},
    "checks": [
        {"name": "nightly-backup", "domain": "host", "command": "true", "code": "backup.late", "severity": "medium", "title": "Nightly backup is late"},
    ],
}


def O(code, severity, target, title, detail="", tags=(), first_seen=None, count=None, evidence=()):
    observation = {"code": code, "severity": severity, "target": target, "title": title, "detail": detail, "tags": list(tags), "evidence": list(evidence)}
    if first_seen is not None:
        observation["first_seen"] = first_seen
        observation["count"] = count or 1
    return observation


# Red herrings that are really present in production on a normal day.
BACKUP_LATE = O("backup.late", "medium", "nightly-backup", "Nightly backup is late", "last backup finished 26h ago")
WARN_BACKGROUND = O("logs.error_signature", "info", "checkout-api.service", "480× WARN cache refresh took <n>ms, serving stale entry",
                    "Seen 480 times; warning level, a steady background (16 recently, 464 before)", tags=["timeout"], first_seen=29, count=480)
PARTNER_CERT_NEXT_MONTH = O("net.tls_expiring", "low", "api.partner.example:443", "api.partner.example:443 certificate expires in 26 days")
BUSY_HOST = O("host.load_high", "medium", "load", "Load average 5.8 on 2 CPUs (15 min 5.1)")
REPORT_JOB_FAILED = O("k8s.job_failed", "medium", "shop/nightly-report-29381", "Job shop/nightly-report-29381 failed (BackoffLimitExceeded)")
EVENTS_NOISE = O("k8s.warning_events", "medium", "shop, payments", "14 warning events (FailedGetResourceMetric ×9, BackOff ×5)")
SLOW_SEARCH = O("net.http_slow", "medium", "https://shop.example.com/healthz", "https://shop.example.com/healthz is slow (2300 ms)")
STEADY_ERRORS = O("logs.error_signature", "low", "billing.service", "60× ERROR thumbnail generation failed for image <n>",
                  "error level, a steady background (2 recently, 58 before)", first_seen=29, count=60)
ALARM_CPU = O("aws.alarm_firing", "high", "shop-batch-cpu", "CloudWatch alarm shop-batch-cpu is ALARM (CPUUtilization > 80 for 15 min)")

SCENARIOS = [
    # --- Database -------------------------------------------------------------------------
    {"id": "pool-exhaustion", "problem": "Checkout is throwing 500s and customers can't pay", "context": {"service": "checkout-api"},
     "expect": "db.connections_saturated", "observations": {
         "db.postgres": [O("db.connections_saturated", "critical", "orders-db", "orders-db has no free connection slots (too many clients)", "SQLSTATE 53300", tags=["too_many_clients"])],
         "logs.journald": [O("logs.error_signature", "high", "checkout-api.service", "212× FATAL: sorry, too many clients already",
                             "error level, started recently (212 in the recent window, 0 before)", tags=["too_many_clients"], first_seen=11, count=212), WARN_BACKGROUND],
         "net.http": [O("net.http_error", "high", "https://shop.example.com/healthz", "https://shop.example.com/healthz answers HTTP 500")],
         "host.load": [BUSY_HOST], "command": [BACKUP_LATE]}},
    {"id": "lock-contention", "problem": "Orders page takes forever to load and some requests time out", "context": {},
     "expect": "db.lock_contention", "observations": {
         "db.postgres": [O("db.lock_contention", "high", "orders-db", "orders-db: 37 session(s) blocked by lock held by pid 81234 (longest wait 412 s)", tags=["locks"]),
                         O("db.idle_in_transaction", "medium", "orders-db", "orders-db: 1 session(s) idle in an open transaction (oldest 431 s)", tags=["locks"])],
         "net.http": [O("net.http_slow", "high", "https://shop.example.com/healthz", "https://shop.example.com/healthz is slow (8900 ms; reported as slow by the user)", tags=["slow"])],
         "logs.files": [O("logs.error_signature", "medium", "/var/log/shop/*.log", "88× ERROR canceling statement due to lock timeout", tags=["timeout", "locks"], first_seen=7, count=88)],
         "k8s.jobs": [REPORT_JOB_FAILED], "command": [BACKUP_LATE]}},
    {"id": "idle-in-transaction", "problem": "Writes to orders hang since the 14:00 deploy", "context": {"service": "checkout-api"},
     "expect": "db.idle_in_transaction", "observations": {
         "db.postgres": [O("db.idle_in_transaction", "high", "orders-db", "orders-db: 6 session(s) idle in an open transaction (oldest 1420 s; reported as slow by the user)",
                           "application checkout-api", tags=["locks"])],
         "logs.journald": [WARN_BACKGROUND], "net.tls": [PARTNER_CERT_NEXT_MONTH], "command": [BACKUP_LATE]}},
    {"id": "long-query", "problem": "The reporting dashboard is very slow today", "context": {},
     "expect": "db.long_running_query", "observations": {
         "db.postgres": [O("db.long_running_query", "high", "orders-db", "orders-db: 3 query(ies) running over 10 s (longest 486 s; reported as slow by the user)")],
         "net.http": [O("net.http_slow", "high", "https://shop.example.com/healthz", "https://shop.example.com/healthz is slow (4100 ms; reported as slow by the user)", tags=["slow"])],
         "host.load": [BUSY_HOST], "command": [BACKUP_LATE]}},
    {"id": "replication-lag", "problem": "Customers see stale order status for minutes after paying", "context": {},
     "expect": "db.replication_lag", "observations": {
         "db.postgres": [O("db.replication_lag", "high", "orders-db", "orders-db: 1 replica(s) lagging over 30 s", "orders-db-replica-1 is 612 s behind", tags=["stale_reads"])],
         "logs.journald": [STEADY_ERRORS], "aws.alarms": [ALARM_CPU], "command": [BACKUP_LATE]}},
    {"id": "password-rotation", "problem": "After rotating the DB password the API cannot connect to the database", "context": {"service": "checkout-api"},
     "expect": "db.auth_failed", "observations": {
         "db.postgres": [O("db.auth_failed", "critical", "orders-db", "orders-db rejects the login of app (SQLSTATE 28P01)", tags=["auth"])],
         "logs.journald": [O("logs.error_signature", "high", "checkout-api.service", "96× FATAL: password authentication failed for user \"app\"", tags=["auth"], first_seen=6, count=96)],
         "k8s.workloads": [O("k8s.crashloop", "high", "shop/checkout-api-7d9f", "shop/checkout-api-7d9f: api is crash-looping (14 restarts, last exit 1)", tags=["auth"])],
         "net.tls": [PARTNER_CERT_NEXT_MONTH], "command": [BACKUP_LATE]}},
    {"id": "db-dns", "problem": "API can't connect to the database: could not translate host name", "context": {},
     "expect": "db.dns_failure", "observations": {
         "db.postgres": [O("db.dns_failure", "critical", "orders-db", "orders-db: orders-db.internal does not resolve", tags=["dns"])],
         "net.dns": [O("net.dns_failure", "high", "orders-db.internal", "orders-db.internal does not resolve", tags=["dns"])],
         "net.tcp_connect": [O("net.dns_failure", "high", "orders-db.internal:5432", "orders-db.internal:5432: name does not resolve", tags=["dns"])],
         "logs.journald": [O("logs.error_signature", "high", "checkout-api.service", "140× could not translate host name \"orders-db.internal\" to address", tags=["dns"], first_seen=4, count=140), WARN_BACKGROUND],
         "command": [BACKUP_LATE]}},
    {"id": "db-down", "problem": "Database connection refused for every service", "context": {},
     "expect": "db.unreachable", "observations": {
         "db.postgres": [O("db.unreachable", "critical", "orders-db", "orders-db refuses connections on port 5432", "orders-db.internal:5432: connection refused", tags=["connection_refused"])],
         "net.tcp_connect": [O("net.tcp_refused", "high", "orders-db.internal:5432", "Connection refused by orders-db.internal:5432", tags=["connection_refused"])],
         "logs.journald": [O("logs.error_signature", "high", "checkout-api.service", "301× connect ECONNREFUSED 10.0.1.7:5432", tags=["connection_refused"], first_seen=3, count=301)],
         "k8s.jobs": [REPORT_JOB_FAILED], "command": [BACKUP_LATE]}},
    {"id": "db-tls", "problem": "Since the DB certificate renewal the app fails to connect with SSL errors", "context": {},
     "expect": "db.tls_error", "observations": {
         "db.postgres": [O("db.tls_error", "critical", "orders-db", "orders-db: TLS handshake failed (certificate verify failed)", tags=["tls"])],
         "logs.journald": [O("logs.error_signature", "high", "checkout-api.service", "75× SSL error: certificate verify failed", tags=["tls"], first_seen=8, count=75)],
         "net.tls": [PARTNER_CERT_NEXT_MONTH], "command": [BACKUP_LATE]}},
    {"id": "stale-dns-after-failover", "problem": "After the database failover the app still connects to the old primary and errors", "context": {},
     "expect": "net.dns_mismatch", "observations": {
         "net.dns_record": [O("net.dns_mismatch", "high", "orders-db.internal", "orders-db.internal resolves to 10.0.1.9, not 10.0.1.7", tags=["dns"])],
         "db.postgres": [O("db.unreachable", "critical", "orders-db", "orders-db does not answer on orders-db.internal:5432 (timeout)", tags=["timeout"])],
         "net.tcp_connect": [O("net.tcp_timeout", "high", "orders-db.internal:5432", "orders-db.internal:5432 timed out after 5 s", tags=["timeout"])],
         "logs.journald": [WARN_BACKGROUND], "command": [BACKUP_LATE]}},
    # --- Network and TLS --------------------------------------------------------------------
    {"id": "expired-certificate", "problem": "Users get certificate errors on the shop website", "context": {},
     "expect": "net.tls_expired", "observations": {
         "net.tls": [O("net.tls_expired", "critical", "shop.example.com:443", "Expired TLS certificate on shop.example.com:443 (expired 9 h ago)", tags=["tls"])],
         "net.http": [O("net.tls_untrusted", "high", "https://shop.example.com/healthz", "https://shop.example.com/healthz: TLS verification failed", tags=["tls"])],
         "host.disk": [O("host.disk_full", "medium", "/var/log", "/var/log is 86% full")], "command": [BACKUP_LATE]}},
    {"id": "broken-chain", "problem": "Partner API calls fail intermittently with TLS handshake errors", "context": {},
     "expect": "net.tls_untrusted", "observations": {
         "net.tls": [O("net.tls_untrusted", "high", "api.partner.example:443", "api.partner.example:443: certificate chain not trusted (unable to get local issuer certificate)", tags=["tls"])],
         "logs.files": [O("logs.error_signature", "high", "/var/log/shop/*.log", "52× x509: certificate signed by unknown authority (api.partner.example)", tags=["tls"], first_seen=35, count=52)],
         "net.http": [SLOW_SEARCH], "command": [BACKUP_LATE]}},
    {"id": "cert-expiring-this-week", "problem": "Synthetic monitoring warns about the shop certificate", "context": {},
     "expect": "net.tls_expiring", "observations": {
         "net.tls": [O("net.tls_expiring", "high", "shop.example.com:443", "shop.example.com:443 certificate expires in 3 days"), PARTNER_CERT_NEXT_MONTH],
         "logs.journald": [WARN_BACKGROUND], "host.load": [BUSY_HOST], "command": [BACKUP_LATE]}},
    {"id": "upstream-dns", "problem": "Payments fail: the payment provider cannot be resolved", "context": {"service": "billing"},
     "expect": "net.dns_failure", "observations": {
         "net.http": [O("net.dns_failure", "high", "https://api.payments-provider.example/v1/health", "https://api.payments-provider.example/v1/health: api.payments-provider.example does not resolve", tags=["dns"])],
         "logs.journald": [O("logs.error_signature", "high", "billing.service", "64× getaddrinfo ENOTFOUND api.payments-provider.example", tags=["dns"], first_seen=12, count=64)],
         "k8s.events": [EVENTS_NOISE], "command": [BACKUP_LATE]}},
    {"id": "service-down-refused", "problem": "The shop health check fails with connection refused", "context": {},
     "expect": "net.tcp_refused", "observations": {
         "net.tcp_connect": [O("net.tcp_refused", "high", "shop.example.com:443", "Connection refused by shop.example.com:443", tags=["connection_refused"])],
         "net.http": [O("net.http_error", "high", "https://shop.example.com/healthz", "https://shop.example.com/healthz: connection refused")],
         "logs.journald": [WARN_BACKGROUND], "net.tls": [PARTNER_CERT_NEXT_MONTH], "command": [BACKUP_LATE]}},
    # --- Host -------------------------------------------------------------------------------
    {"id": "disk-full", "problem": "Database went down: no space left on device", "context": {},
     "expect": "host.disk_full", "observations": {
         "host.disk": [O("host.disk_full", "critical", "/var/lib/postgresql", "/var/lib/postgresql is out of space (100% used, 0 B free)", tags=["disk_full"])],
         "db.postgres": [O("db.unreachable", "critical", "orders-db", "orders-db is not accepting connections (starting up, shutting down or in recovery)")],
         "logs.journald": [O("logs.error_signature", "high", "postgresql.service", "18× PANIC: could not write to file \"pg_wal/xlogtemp\": No space left on device", tags=["disk_full"], first_seen=9, count=18)],
         "command": [BACKUP_LATE]}},
    {"id": "inodes", "problem": "Uploads fail with 'No space left on device' but df shows free space", "context": {},
     "expect": "host.inodes_exhausted", "observations": {
         "host.disk": [O("host.inodes_exhausted", "critical", "/srv/uploads", "/srv/uploads has no free inodes (100% used)", tags=["disk_full"])],
         "logs.files": [O("logs.error_signature", "high", "/var/log/shop/*.log", "230× ENOSPC: no space left on device, open '/srv/uploads/tmp/<hex>'", tags=["disk_full"], first_seen=20, count=230)],
         "host.load": [BUSY_HOST], "command": [BACKUP_LATE]}},
    {"id": "host-oom", "problem": "The API process keeps dying on the VM", "context": {"service": "checkout-api"},
     "expect": "host.oom_kill", "observations": {
         "host.oom": [O("host.oom_kill", "high", "kernel", "The kernel OOM-killed checkout-api 4 times in 30 min", tags=["oom"])],
         "host.memory": [O("host.memory_pressure", "high", "memory", "Memory 97% used, PSI some avg10 41%", tags=["oom"])],
         "logs.journald": [O("logs.error_signature", "medium", "checkout-api.service", "4× checkout-api.service: Main process exited, code=killed, status=9/KILL", first_seen=28, count=4), WARN_BACKGROUND],
         "command": [BACKUP_LATE]}},
    {"id": "memory-pressure", "problem": "Everything on the batch host is sluggish", "context": {},
     "expect": "host.memory_pressure", "observations": {
         "host.memory": [O("host.memory_pressure", "high", "memory", "Memory 96% used and swapping, PSI full avg10 22%")],
         "host.load": [O("host.load_high", "high", "load", "Load average 14.2 on 2 CPUs")],
         "logs.journald": [STEADY_ERRORS], "command": [BACKUP_LATE]}},
    # --- Kubernetes -------------------------------------------------------------------------
    {"id": "oomkilled-crashloop", "problem": "checkout pods keep restarting", "context": {"namespace": "shop"},
     "expect": "k8s.oomkilled", "observations": {
         "k8s.workloads": [O("k8s.oomkilled", "high", "shop/checkout-api-5f7c", "shop/checkout-api-5f7c: api was OOMKilled (limit 512Mi)", tags=["oom"]),
                           O("k8s.crashloop", "high", "shop/checkout-api-5f7c", "shop/checkout-api-5f7c: api is crash-looping (23 restarts, last exit 137 OOMKilled)", tags=["oom"]),
                           O("k8s.deployment_unavailable", "high", "shop/checkout-api", "shop/checkout-api: 1/4 replicas ready")],
         "k8s.events": [EVENTS_NOISE], "k8s.jobs": [REPORT_JOB_FAILED], "command": [BACKUP_LATE]}},
    {"id": "bad-config-crashloop", "problem": "New release of the billing service is crashing", "context": {"namespace": "payments"},
     "expect": "k8s.crashloop", "observations": {
         "k8s.workloads": [O("k8s.crashloop", "high", "payments/billing-6b8d", "payments/billing-6b8d: billing is crash-looping (11 restarts, last exit 1)",
                             "panic: missing required env BILLING_QUEUE_URL"),
                           O("k8s.deployment_unavailable", "critical", "payments/billing", "payments/billing: 0/2 replicas ready")],
         "k8s.services": [O("k8s.service_no_endpoints", "high", "payments/billing", "payments/billing has no ready endpoints")],
         "k8s.events": [EVENTS_NOISE], "net.tls": [PARTNER_CERT_NEXT_MONTH], "command": [BACKUP_LATE]}},
    {"id": "image-pull", "problem": "Deployment of checkout is stuck, pods never start", "context": {"namespace": "shop"},
     "expect": "k8s.image_pull", "observations": {
         "k8s.workloads": [O("k8s.image_pull", "high", "shop/checkout-api-8c2d", "shop/checkout-api-8c2d: image registry.example.com/checkout:1.42.0 cannot be pulled (manifest unknown)"),
                           O("k8s.deployment_unavailable", "high", "shop/checkout-api", "shop/checkout-api: rollout stuck, 3/4 replicas ready (1 new)")],
         "k8s.events": [O("k8s.warning_events", "medium", "shop", "6 warning events (Failed ×3, BackOff ×3)")],
         "k8s.jobs": [REPORT_JOB_FAILED], "command": [BACKUP_LATE]}},
    {"id": "unschedulable", "problem": "New pods for the search deployment stay Pending", "context": {"namespace": "shop"},
     "expect": "k8s.unschedulable", "observations": {
         "k8s.workloads": [O("k8s.unschedulable", "high", "shop/search-77f9", "shop/search-77f9 cannot be scheduled: 0/3 nodes have enough cpu"),
                           O("k8s.deployment_unavailable", "medium", "shop/search", "shop/search: 2/4 replicas ready")],
         "k8s.events": [EVENTS_NOISE], "aws.alarms": [ALARM_CPU], "command": [BACKUP_LATE]}},
    {"id": "node-not-ready", "problem": "Half of the pods on the cluster are down", "context": {},
     "expect": "k8s.node_not_ready", "observations": {
         "k8s.nodes": [O("k8s.node_not_ready", "critical", "ip-10-0-3-17", "Node ip-10-0-3-17 is NotReady (kubelet stopped posting status 14 min ago)")],
         "k8s.workloads": [O("k8s.deployment_unavailable", "high", "shop/checkout-api", "shop/checkout-api: 2/4 replicas ready", "pods on ip-10-0-3-17 are Unknown")],
         "k8s.events": [O("k8s.warning_events", "medium", "shop, payments", "31 warning events (NodeNotReady ×12, FailedScheduling ×19) on ip-10-0-3-17")],
         "k8s.jobs": [REPORT_JOB_FAILED], "command": [BACKUP_LATE]}},
    {"id": "node-disk-pressure", "problem": "Pods are being evicted on the cluster", "context": {},
     "expect": "k8s.node_pressure", "observations": {
         "k8s.nodes": [O("k8s.node_pressure", "high", "ip-10-0-2-41", "Node ip-10-0-2-41 reports DiskPressure")],
         "k8s.events": [O("k8s.warning_events", "medium", "shop, payments", "17 warning events (Evicted ×15, FreeDiskSpaceFailed ×2) on ip-10-0-2-41")],
         "host.load": [BUSY_HOST], "command": [BACKUP_LATE]}},
    {"id": "pvc-pending", "problem": "The new queue statefulset pods never start", "context": {"namespace": "payments"},
     "expect": "k8s.pvc_pending", "observations": {
         "k8s.storage": [O("k8s.pvc_pending", "high", "payments/data-queue-0", "payments/data-queue-0 is Pending: storageclass \"fast-ssd\" not found")],
         "k8s.workloads": [O("k8s.unschedulable", "medium", "payments/queue-0", "payments/queue-0 cannot be scheduled: pod has unbound immediate PersistentVolumeClaims (data-queue-0)")],
         "k8s.events": [EVENTS_NOISE], "command": [BACKUP_LATE]}},
    {"id": "failed-migration-job", "problem": "The database migration job of the release failed", "context": {"namespace": "shop"},
     "expect": "k8s.job_failed", "observations": {
         "k8s.jobs": [O("k8s.job_failed", "high", "shop/migrate-1-42-0", "Job shop/migrate-1-42-0 failed (BackoffLimitExceeded)")],
         "k8s.events": [O("k8s.warning_events", "medium", "shop", "4 warning events (BackoffLimitExceeded ×1, BackOff ×3) for shop/migrate-1-42-0")],
         "logs.journald": [WARN_BACKGROUND], "net.tls": [PARTNER_CERT_NEXT_MONTH], "command": [BACKUP_LATE]}},
    # --- AWS --------------------------------------------------------------------------------
    {"id": "rds-storage-full", "problem": "Orders database on RDS stopped accepting writes", "context": {},
     "expect": "aws.rds_unavailable", "observations": {
         "aws.rds": [O("aws.rds_unavailable", "critical", "orders-rds", "RDS instance orders-rds is storage-full", tags=["disk_full"])],
         "aws.alarms": [O("aws.alarm_firing", "high", "orders-rds-free-storage", "CloudWatch alarm orders-rds-free-storage is ALARM (FreeStorageSpace < 1 GiB) for orders-rds"), ALARM_CPU],
         "db.postgres": [O("db.unreachable", "critical", "orders-db", "orders-db is not accepting connections (starting up, shutting down or in recovery)")],
         "command": [BACKUP_LATE]}},
    {"id": "ec2-impaired", "problem": "Load balancer reports unhealthy targets for the shop", "context": {},
     "expect": "aws.ec2_impaired", "observations": {
         "aws.ec2": [O("aws.ec2_impaired", "critical", "i-0a1b2c3d4e5f (shop-web-2)", "EC2 instance i-0a1b2c3d4e5f (shop-web-2) fails its instance status check")],
         "aws.targets": [O("aws.targets_unhealthy", "high", "shop-web-tg", "1 of 3 targets unhealthy in shop-web-tg: i-0a1b2c3d4e5f (Target.Timeout)")],
         "aws.alarms": [ALARM_CPU], "command": [BACKUP_LATE]}},
    {"id": "unhealthy-targets-bad-deploy", "problem": "ALB returns 502 Bad Gateway on the shop", "context": {},
     "expect": "aws.targets_unhealthy", "observations": {
         "aws.targets": [O("aws.targets_unhealthy", "high", "shop-web-tg", "3 of 3 targets unhealthy in shop-web-tg (Target.ResponseCodeMismatch: 404 on /healthz)")],
         "net.http": [O("net.http_error", "high", "https://shop.example.com/healthz", "https://shop.example.com/healthz answers HTTP 502")],
         "aws.alarms": [ALARM_CPU], "logs.journald": [WARN_BACKGROUND], "command": [BACKUP_LATE]}},
]

# Healthy days with chatty logs: nothing may be reported high or critical.
BASELINES = [
    {"id": "baseline-chatty-warnings", "problem": "Is anything wrong with checkout? A customer complained once", "context": {"service": "checkout-api"},
     "observations": {"logs.journald": [WARN_BACKGROUND, STEADY_ERRORS], "net.tls": [PARTNER_CERT_NEXT_MONTH], "command": [BACKUP_LATE]}},
    {"id": "baseline-busy-but-fine", "problem": "Routine check before the sale: database and API health", "context": {},
     "observations": {"host.load": [O("host.load_high", "medium", "load", "Load average 2.6 on 2 CPUs")],
                      "logs.files": [O("logs.error_signature", "info", "/var/log/shop/*.log", "900× WARN slow request <n> ms", "warning level, a steady background", tags=["slow"], first_seen=29, count=900)],
                      "k8s.events": [EVENTS_NOISE], "command": [BACKUP_LATE]}},
    {"id": "baseline-cluster-noise", "problem": "Pods restarted last night, is the cluster ok now?", "context": {},
     "observations": {"k8s.events": [EVENTS_NOISE], "k8s.jobs": [REPORT_JOB_FAILED], "logs.journald": [WARN_BACKGROUND], "command": [BACKUP_LATE]}},
]
