import DiagnosisModel
import Foundation

/// How a known failure reads in a report: a title, the chain from the broken component to what
/// the clients see, and what to do. Which finding is the cause, and which symptoms it explains,
/// the ranking decides (``CausalRanker``); a rule only tells the story of its anchor codes.
struct CorrelationRule: Sendable {
    let id: String
    /// The cause codes this story is about.
    let anchors: Set<String>
    let title: @Sendable (_ anchor: Finding, _ supporting: [Finding]) -> String
    let explanation: @Sendable (_ anchor: Finding, _ supporting: [Finding]) -> String
    let nextSteps: @Sendable (_ anchor: Finding) -> [String]

    static func narrative(for code: String) -> CorrelationRule? { CorrelationRules.all.first { $0.anchors.contains(code) } }
}

enum CorrelationRules {
    static func describe(_ findings: [Finding]) -> String {
        let byDomain = Dictionary(grouping: findings, by: \.domain)
        return byDomain.keys.sorted().map { domain in
            "\(domain.rawValue): " + (byDomain[domain] ?? []).prefix(3).map(\.title).joined(separator: "; ")
        }.joined(separator: " · ")
    }

    static let all: [CorrelationRule] = [
        CorrelationRule(
            id: "pool-exhaustion",
            anchors: ["db.connections_saturated"],
            title: { anchor, _ in "Connection pool exhaustion at \(anchor.target)" },
            explanation: { anchor, supporting in
                "\(anchor.target) has no free connection slots (\(anchor.title)). " +
                (supporting.isEmpty ? "" : "The clients show it too — \(describe(supporting)). ") +
                "New connections fail, so the application errors and its pods may restart, which opens still more connections."
            },
            nextSteps: { anchor in [
                "See who holds the slots: psql -c \"SELECT usename, application_name, client_addr, state, count(*) FROM pg_stat_activity GROUP BY 1,2,3,4 ORDER BY 5 DESC\" on \(anchor.target).",
                "Cap the application's pool size (max pool × replicas must stay under max_connections − reserved), or put PgBouncer in front.",
                "Terminate idle sessions of the leaking client to recover now: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle' AND application_name = '<app>'.",
            ] }
        ),
        CorrelationRule(
            id: "lock-contention",
            anchors: ["db.lock_contention"],
            title: { anchor, supporting in
                supporting.contains { $0.code == "db.idle_in_transaction" }
                    ? "Lock contention at \(anchor.target): an open, idle transaction blocks other sessions"
                    : "Lock contention at \(anchor.target)"
            },
            explanation: { anchor, supporting in
                "\(anchor.title). \(anchor.detail) " + (supporting.isEmpty ? "" : "Related: \(describe(supporting)).")
            },
            nextSteps: { anchor in [
                "End the blocking transaction (the blocker pid in the evidence): SELECT pg_terminate_backend(<pid>) on \(anchor.target) if its owner cannot commit it.",
                "Find the code path that keeps a transaction open and add commit/rollback; set idle_in_transaction_session_timeout and lock_timeout.",
            ] }
        ),
        CorrelationRule(
            id: "database-credentials",
            anchors: ["db.auth_failed"],
            title: { anchor, _ in "\(anchor.target) rejects the application's credentials (password rotated on one side?)" },
            explanation: { anchor, supporting in
                "\(anchor.title). " + (supporting.isEmpty ? "" : "Clients fail the same way: \(describe(supporting)). ") +
                "This usually follows a password rotation that reached the database but not the application's secret, or the reverse."
            },
            nextSteps: { anchor in [
                "Compare the secret the application uses with the role's password on \(anchor.target); re-run the rotation so both sides match.",
                "Restart the clients that cache the old password after fixing the secret.",
            ] }
        ),
        CorrelationRule(
            id: "storage-full-rds",
            anchors: ["aws.rds_unavailable"],
            title: { anchor, supporting in
                anchor.title.lowercased().contains("storage") || supporting.contains { $0.title.lowercased().contains("storage") }
                    ? "RDS instance \(anchor.target) is out of storage" : "RDS instance \(anchor.target) is not available"
            },
            explanation: { anchor, supporting in "\(anchor.title). " + (supporting.isEmpty ? "" : "Related: \(describe(supporting)).") },
            nextSteps: { anchor in [
                "aws rds modify-db-instance --db-instance-identifier \(anchor.target) --allocated-storage <larger> --apply-immediately (or enable storage autoscaling).",
                "Find what filled it (logs, temporary tables, bloat) once it is writable again.",
            ] }
        ),
        CorrelationRule(
            id: "database-down",
            anchors: ["db.unreachable", "db.dns_failure"],
            title: { anchor, _ in
                anchor.code == "db.dns_failure" ? "\(anchor.target) cannot be found (DNS)" : "\(anchor.target) is down or unreachable"
            },
            explanation: { anchor, supporting in
                "\(anchor.title). \(anchor.detail) " + (supporting.isEmpty ? "" : "Corroborated by: \(describe(supporting)).")
            },
            nextSteps: { anchor in [
                anchor.remediation.isEmpty ? "Check the database server's status and log." : anchor.remediation,
                "Once it is back, watch the clients reconnect (their error rate in the logs should drop).",
            ] }
        ),
        CorrelationRule(
            id: "expired-certificate",
            anchors: ["net.tls_expired"],
            title: { anchor, _ in "Expired TLS certificate on \(anchor.target)" },
            explanation: { anchor, supporting in
                "\(anchor.title). Clients that verify certificates refuse to connect. " + (supporting.isEmpty ? "" : "Seen as: \(describe(supporting)).")
            },
            nextSteps: { anchor in [
                "Renew and deploy the certificate for \(anchor.target) now; reload the server (nginx -s reload, rollout restart).",
                "Find out why renewal did not happen (cert-manager/ACME job, DNS challenge) and alert on expiry 14 days ahead.",
            ] }
        ),
        CorrelationRule(
            id: "disk-full",
            anchors: ["host.disk_full", "host.inodes_exhausted"],
            title: { anchor, _ in "\(anchor.target) is out of space" },
            explanation: { anchor, supporting in
                "\(anchor.title). Writes fail with ENOSPC. " + (supporting.isEmpty ? "" : "Effects: \(describe(supporting)).")
            },
            nextSteps: { anchor in [
                "Free space on \(anchor.target) now: du -xh --max-depth=2 \(anchor.target) | sort -h | tail; truncate or rotate runaway logs.",
                "Add log rotation/retention for what grew, and an alert at 80%.",
            ] }
        ),
        CorrelationRule(
            id: "out-of-memory",
            anchors: ["host.oom_kill", "k8s.oomkilled"],
            title: { anchor, _ in anchor.code == "k8s.oomkilled" ? "Containers are OOMKilled: \(anchor.target)" : "Processes are killed for lack of memory" },
            explanation: { anchor, supporting in
                "\(anchor.title). " + (supporting.isEmpty ? "" : "Related: \(describe(supporting)).")
            },
            nextSteps: { anchor in [
                anchor.code == "k8s.oomkilled"
                    ? "Raise the container's memory limit or fix its usage: kubectl top pod; check heap settings (e.g. -Xmx below the limit)."
                    : "Find the process that grows (ps aux --sort=-rss) and its limit; add memory or fix the leak.",
            ] }
        ),
        CorrelationRule(
            id: "node-failure",
            anchors: ["k8s.node_not_ready"],
            title: { anchor, _ in "Node \(anchor.target) is NotReady: its pods cannot run elsewhere" },
            explanation: { anchor, supporting in "\(anchor.title). " + (supporting.isEmpty ? "" : "Consequences: \(describe(supporting)).") },
            nextSteps: { anchor in [
                "kubectl describe node \(anchor.target); check kubelet (journalctl -u kubelet) and the instance behind it.",
                "Cordon and drain it, or add capacity, so pending pods can schedule.",
            ] }
        ),
        CorrelationRule(
            id: "crashloop",
            anchors: ["k8s.crashloop"],
            title: { anchor, _ in "Pods crash-looping: \(anchor.target)" },
            explanation: { anchor, supporting in "\(anchor.title). \(anchor.detail) " + (supporting.isEmpty ? "" : "Related: \(describe(supporting)).") },
            nextSteps: { anchor in [
                "kubectl logs --previous for the pod in \(anchor.target) shows why it exits; fix that cause, then kubectl rollout restart.",
            ] }
        ),
        CorrelationRule(
            id: "instance-down",
            anchors: ["metrics.target_down"],
            title: { anchor, supporting in
                supporting.contains { $0.code == "net.tcp_refused" }
                    ? "\(anchor.target) is down: Prometheus cannot scrape it and connections are refused"
                    : "\(anchor.target) is down: Prometheus cannot scrape it"
            },
            explanation: { anchor, supporting in
                "\(anchor.title). \(anchor.detail) " + (supporting.isEmpty ? "" : "Corroborated by: \(describe(supporting)).")
            },
            nextSteps: { anchor in [
                "Check the process behind \(anchor.target) (systemctl status, kubectl get pods) and why it stopped; restart it.",
                anchor.remediation,
            ].filter { !$0.isEmpty } }
        ),
        CorrelationRule(
            id: "unhealthy-targets",
            anchors: ["aws.targets_unhealthy"],
            title: { anchor, _ in "Load balancer targets unhealthy: \(anchor.target)" },
            explanation: { anchor, supporting in "\(anchor.title). \(anchor.detail) " + (supporting.isEmpty ? "" : "Related: \(describe(supporting)).") },
            nextSteps: { anchor in [anchor.remediation.isEmpty ? "Check the targets' health-check path and security groups." : anchor.remediation] }
        ),
    ]
}
