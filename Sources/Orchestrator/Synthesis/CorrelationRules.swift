import DiagnosisModel
import Foundation

/// A known failure pattern: the finding that establishes it, the findings that corroborate it
/// (from any domain), and what to do.
struct CorrelationRule: Sendable {
    let id: String
    /// Codes of which at least one must be present (the anchor).
    let anchors: Set<String>
    /// Codes and tags (`tag:too_many_clients`) that add support.
    let supporters: Set<String>
    let baseConfidence: Double
    let title: @Sendable (_ anchor: Finding, _ supporting: [Finding]) -> String
    let explanation: @Sendable (_ anchor: Finding, _ supporting: [Finding]) -> String
    let nextSteps: @Sendable (_ anchor: Finding) -> [String]

    func supports(_ finding: Finding) -> Bool {
        guard finding.severity != .ok else { return false }
        return supporters.contains(finding.code) || finding.tags.contains { supporters.contains("tag:\($0)") }
    }
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
            supporters: ["tag:too_many_clients", "k8s.crashloop", "logs.error_spike", "net.http_error", "db.idle_in_transaction", "aws.alarm_firing"],
            baseConfidence: 0.75,
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
            supporters: ["db.idle_in_transaction", "db.long_running_query", "tag:timeout", "tag:locks", "logs.error_spike"],
            baseConfidence: 0.7,
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
            supporters: ["tag:auth", "k8s.crashloop", "logs.error_spike", "net.http_error"],
            baseConfidence: 0.8,
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
            supporters: ["aws.alarm_firing", "tag:disk_full", "db.unreachable", "logs.error_spike"],
            baseConfidence: 0.7,
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
            supporters: ["tag:connection_refused", "tag:dns", "net.tcp_refused", "net.tcp_timeout", "k8s.crashloop", "logs.error_spike", "aws.alarm_firing"],
            baseConfidence: 0.75,
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
            supporters: ["net.http_error", "net.tls_untrusted", "tag:tls", "aws.targets_unhealthy"],
            baseConfidence: 0.85,
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
            supporters: ["tag:disk_full", "logs.error_spike", "db.unreachable", "k8s.crashloop"],
            baseConfidence: 0.75,
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
            supporters: ["host.memory_pressure", "tag:oom", "k8s.crashloop"],
            baseConfidence: 0.75,
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
            supporters: ["k8s.unschedulable", "k8s.deployment_unavailable", "k8s.warning_events", "aws.ec2_impaired"],
            baseConfidence: 0.75,
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
            supporters: ["logs.error_spike", "k8s.deployment_unavailable", "k8s.warning_events"],
            baseConfidence: 0.6,
            title: { anchor, _ in "Pods crash-looping: \(anchor.target)" },
            explanation: { anchor, supporting in "\(anchor.title). \(anchor.detail) " + (supporting.isEmpty ? "" : "Related: \(describe(supporting)).") },
            nextSteps: { anchor in [
                "kubectl logs --previous for the pod in \(anchor.target) shows why it exits; fix that cause, then kubectl rollout restart.",
            ] }
        ),
        CorrelationRule(
            id: "unhealthy-targets",
            anchors: ["aws.targets_unhealthy"],
            supporters: ["net.http_error", "k8s.deployment_unavailable", "aws.alarm_firing", "aws.ec2_impaired"],
            baseConfidence: 0.65,
            title: { anchor, _ in "Load balancer targets unhealthy: \(anchor.target)" },
            explanation: { anchor, supporting in "\(anchor.title). \(anchor.detail) " + (supporting.isEmpty ? "" : "Related: \(describe(supporting)).") },
            nextSteps: { anchor in [anchor.remediation.isEmpty ? "Check the targets' health-check path and security groups." : anchor.remediation] }
        ),
    ]
}
