/// A finding code (`db.connections_saturated`): what a probe saw, as a typed value. Every code
/// is declared once in ``FindingCode/declarations`` with what it means for ranking; a test fails
/// when a probe, rule or playbook uses an undeclared one, or a declared one is never produced.
public struct FindingCode: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: FindingCode, rhs: FindingCode) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Its declaration; nil for a code nobody declared (a playbook's own command check code).
    public var declaration: Declaration? { Self.byCode[self] }
}

extension FindingCode {
    /// What a finding says about the incident, for ranking.
    public enum Role: String, Sendable, Codable {
        /// The component itself is broken (unreachable, saturated, locked, out of space,
        /// unschedulable, image missing, certificate expired).
        case cause
        /// Something a client or an observer reports (errors, latency, refused connections,
        /// log signatures, firing alarms): it points at a cause without being one.
        case symptom
        /// A check that came back fine.
        case healthy
        /// About the diagnosis itself (a credential that was not available), not the system.
        case meta
    }

    /// What kind of component a finding is about.
    public enum Component: String, Sendable, Codable {
        case database, endpoint, workload, node, host, logSource = "log_source", cloudResource = "cloud_resource", credential, check
        /// A metrics backend or a signal it holds.
        case metric
    }

    public struct Declaration: Sendable {
        public let code: FindingCode
        public let role: Role
        public let component: Component
        /// Symptom codes, and finding tags (`tag:too_many_clients`), this cause explains.
        public let explains: Set<String>
        public let meaning: String

        init(_ code: FindingCode, _ role: Role, _ component: Component, explains: Set<String> = [], _ meaning: String) {
            self.code = code
            self.role = role
            self.component = component
            self.explains = explains
            self.meaning = meaning
        }

        /// Whether this cause accounts for `finding` (by its code or one of its tags).
        public func explains(_ finding: Finding) -> Bool {
            explains.contains(finding.code) || finding.tags.contains { explains.contains("tag:\($0)") }
        }
    }

    static let byCode: [FindingCode: Declaration] = Dictionary(uniqueKeysWithValues: declarations.map { ($0.code, $0) })
}

// MARK: The codes

extension FindingCode {
    // Database
    public static let dbDNSFailure = FindingCode(rawValue: "db.dns_failure")
    public static let dbUnreachable = FindingCode(rawValue: "db.unreachable")
    public static let dbTLSError = FindingCode(rawValue: "db.tls_error")
    public static let dbAuthFailed = FindingCode(rawValue: "db.auth_failed")
    public static let dbConnectionsSaturated = FindingCode(rawValue: "db.connections_saturated")
    public static let dbLockContention = FindingCode(rawValue: "db.lock_contention")
    public static let dbIdleInTransaction = FindingCode(rawValue: "db.idle_in_transaction")
    public static let dbLongRunningQuery = FindingCode(rawValue: "db.long_running_query")
    public static let dbReplicationLag = FindingCode(rawValue: "db.replication_lag")
    public static let dbOK = FindingCode(rawValue: "db.ok")
    // Network
    public static let netDNSFailure = FindingCode(rawValue: "net.dns_failure")
    public static let netDNSMismatch = FindingCode(rawValue: "net.dns_mismatch")
    public static let netTCPRefused = FindingCode(rawValue: "net.tcp_refused")
    public static let netTCPTimeout = FindingCode(rawValue: "net.tcp_timeout")
    public static let netTLSExpired = FindingCode(rawValue: "net.tls_expired")
    public static let netTLSExpiring = FindingCode(rawValue: "net.tls_expiring")
    public static let netTLSUntrusted = FindingCode(rawValue: "net.tls_untrusted")
    public static let netHTTPError = FindingCode(rawValue: "net.http_error")
    public static let netHTTPSlow = FindingCode(rawValue: "net.http_slow")
    public static let netOK = FindingCode(rawValue: "net.ok")
    // Host
    public static let hostDiskFull = FindingCode(rawValue: "host.disk_full")
    public static let hostInodesExhausted = FindingCode(rawValue: "host.inodes_exhausted")
    public static let hostMemoryPressure = FindingCode(rawValue: "host.memory_pressure")
    public static let hostLoadHigh = FindingCode(rawValue: "host.load_high")
    public static let hostOOMKill = FindingCode(rawValue: "host.oom_kill")
    public static let hostOK = FindingCode(rawValue: "host.ok")
    // Logs
    public static let logsErrorSignature = FindingCode(rawValue: "logs.error_signature")
    public static let logsErrorSpike = FindingCode(rawValue: "logs.error_spike")
    public static let logsOK = FindingCode(rawValue: "logs.ok")
    public static let logsNoData = FindingCode(rawValue: "logs.no_data")
    // Kubernetes
    public static let k8sCrashloop = FindingCode(rawValue: "k8s.crashloop")
    public static let k8sOOMKilled = FindingCode(rawValue: "k8s.oomkilled")
    public static let k8sImagePull = FindingCode(rawValue: "k8s.image_pull")
    public static let k8sUnschedulable = FindingCode(rawValue: "k8s.unschedulable")
    public static let k8sDeploymentUnavailable = FindingCode(rawValue: "k8s.deployment_unavailable")
    public static let k8sServiceNoEndpoints = FindingCode(rawValue: "k8s.service_no_endpoints")
    public static let k8sNodeNotReady = FindingCode(rawValue: "k8s.node_not_ready")
    public static let k8sNodePressure = FindingCode(rawValue: "k8s.node_pressure")
    public static let k8sPVCPending = FindingCode(rawValue: "k8s.pvc_pending")
    public static let k8sJobFailed = FindingCode(rawValue: "k8s.job_failed")
    public static let k8sWarningEvents = FindingCode(rawValue: "k8s.warning_events")
    public static let k8sOK = FindingCode(rawValue: "k8s.ok")
    // AWS
    public static let awsRDSUnavailable = FindingCode(rawValue: "aws.rds_unavailable")
    public static let awsAlarmFiring = FindingCode(rawValue: "aws.alarm_firing")
    public static let awsEC2Impaired = FindingCode(rawValue: "aws.ec2_impaired")
    public static let awsTargetsUnhealthy = FindingCode(rawValue: "aws.targets_unhealthy")
    public static let awsLogErrors = FindingCode(rawValue: "aws.log_errors")
    public static let awsOK = FindingCode(rawValue: "aws.ok")
    // Metrics (Prometheus HTTP API)
    public static let metricsAlertFiring = FindingCode(rawValue: "metrics.alert_firing")
    public static let metricsAlertPending = FindingCode(rawValue: "metrics.alert_pending")
    public static let metricsTargetDown = FindingCode(rawValue: "metrics.target_down")
    public static let metricsErrorRatio = FindingCode(rawValue: "metrics.error_ratio")
    public static let metricsLatency = FindingCode(rawValue: "metrics.latency")
    public static let metricsTraffic = FindingCode(rawValue: "metrics.traffic")
    public static let metricsSaturation = FindingCode(rawValue: "metrics.saturation")
    public static let metricsRestarts = FindingCode(rawValue: "metrics.restarts")
    public static let metricsQueryFailed = FindingCode(rawValue: "metrics.query_failed")
    public static let metricsUnreachable = FindingCode(rawValue: "metrics.unreachable")
    public static let metricsOK = FindingCode(rawValue: "metrics.ok")
    // Command checks (a check may name its own codes)
    public static let commandFailed = FindingCode(rawValue: "command.failed")
    public static let commandOK = FindingCode(rawValue: "command.ok")
    // The diagnosis itself
    public static let credResolveFailed = FindingCode(rawValue: "cred.resolve_failed")
    public static let credDenied = FindingCode(rawValue: "cred.denied")
    public static let credExpired = FindingCode(rawValue: "cred.expired")

    /// Every code, with its role. Causes list the symptoms they explain: a client's errors and
    /// log lines are folded into the broken component that accounts for them.
    public static let declarations: [Declaration] = [
        .init(.dbDNSFailure, .cause, .database, explains: ["metrics.error_ratio", "metrics.alert_firing", "net.dns_failure", "tag:dns", "logs.error_signature", "logs.error_spike", "net.http_error"], "the database's host name does not resolve"),
        .init(.dbUnreachable, .cause, .database, explains: ["metrics.error_ratio", "metrics.alert_firing", "metrics.target_down", "net.tcp_refused", "net.tcp_timeout", "tag:connection_refused", "tag:timeout", "logs.error_signature", "logs.error_spike", "net.http_error", "k8s.crashloop", "aws.alarm_firing"], "the database does not accept connections"),
        .init(.dbTLSError, .cause, .database, explains: ["tag:tls", "logs.error_signature", "net.http_error"], "TLS to the database fails"),
        .init(.dbAuthFailed, .cause, .database, explains: ["metrics.error_ratio", "metrics.alert_firing", "tag:auth", "logs.error_signature", "logs.error_spike", "net.http_error", "k8s.crashloop"], "the application's login is refused"),
        .init(.dbConnectionsSaturated, .cause, .database, explains: ["metrics.error_ratio", "metrics.latency", "metrics.alert_firing", "metrics.alert_pending", "tag:too_many_clients", "logs.error_signature", "logs.error_spike", "net.http_error", "net.http_slow", "k8s.crashloop", "db.idle_in_transaction", "aws.alarm_firing"], "no free connection slots"),
        .init(.dbLockContention, .cause, .database, explains: ["metrics.latency", "metrics.error_ratio", "metrics.alert_firing", "db.long_running_query", "db.idle_in_transaction", "tag:timeout", "tag:locks", "logs.error_signature", "logs.error_spike", "net.http_slow", "net.http_error"], "sessions wait on locks held by others"),
        .init(.dbIdleInTransaction, .cause, .database, explains: ["metrics.latency", "tag:timeout", "net.http_slow"], "sessions hold a transaction open while idle"),
        .init(.dbLongRunningQuery, .cause, .database, explains: ["metrics.latency", "tag:timeout", "net.http_slow", "logs.error_signature"], "a query has been running far longer than usual"),
        .init(.dbReplicationLag, .cause, .database, explains: ["tag:stale_reads"], "replicas are behind the primary"),
        .init(.dbOK, .healthy, .database, "the database checks passed"),
        .init(.netDNSFailure, .cause, .endpoint, explains: ["tag:dns", "logs.error_signature", "net.http_error"], "a host name does not resolve"),
        .init(.netDNSMismatch, .cause, .endpoint, explains: ["metrics.error_ratio", "net.tcp_refused", "net.tcp_timeout", "tag:connection_refused", "tag:timeout", "db.unreachable", "net.http_error", "logs.error_signature", "logs.error_spike"], "a name resolves to addresses other than the expected host's"),
        .init(.netTCPRefused, .symptom, .endpoint, explains: ["tag:connection_refused"], "nothing accepts connections on a port"),
        .init(.netTCPTimeout, .symptom, .endpoint, explains: ["tag:timeout"], "connections to a port time out"),
        .init(.netTLSExpired, .cause, .endpoint, explains: ["metrics.error_ratio", "metrics.alert_firing", "tag:tls", "net.http_error", "net.tls_untrusted", "logs.error_signature", "aws.targets_unhealthy"], "the certificate has expired"),
        .init(.netTLSExpiring, .cause, .endpoint, "the certificate expires soon"),
        .init(.netTLSUntrusted, .cause, .endpoint, explains: ["tag:tls", "net.http_error"], "the certificate chain is not trusted"),
        .init(.netHTTPError, .symptom, .endpoint, "an HTTP endpoint answers with errors"),
        .init(.netHTTPSlow, .symptom, .endpoint, "an HTTP endpoint answers slowly"),
        .init(.netOK, .healthy, .endpoint, "the endpoint checks passed"),
        .init(.hostDiskFull, .cause, .host, explains: ["metrics.error_ratio", "metrics.alert_firing", "tag:disk_full", "logs.error_signature", "logs.error_spike", "db.unreachable", "k8s.crashloop", "net.http_error"], "a file system is (nearly) full"),
        .init(.hostInodesExhausted, .cause, .host, explains: ["tag:disk_full", "logs.error_signature", "logs.error_spike", "net.http_error"], "a file system has no free inodes"),
        .init(.hostMemoryPressure, .cause, .host, explains: ["metrics.latency", "host.load_high", "net.http_slow"], "the host is short of memory"),
        .init(.hostLoadHigh, .symptom, .host, "the host's load is high"),
        .init(.hostOOMKill, .cause, .host, explains: ["metrics.error_ratio", "metrics.alert_firing", "metrics.restarts", "tag:oom", "host.memory_pressure", "k8s.crashloop", "logs.error_spike", "net.http_error"], "the kernel killed processes for memory"),
        .init(.hostOK, .healthy, .host, "the host checks passed"),
        .init(.logsErrorSignature, .symptom, .logSource, "an error message recurs in the logs"),
        .init(.logsErrorSpike, .symptom, .logSource, "the error rate in the logs jumped"),
        .init(.logsOK, .healthy, .logSource, "the logs show no errors"),
        .init(.logsNoData, .meta, .logSource, "nothing was read from a log source: not examined, not healthy"),
        .init(.k8sCrashloop, .cause, .workload, explains: ["metrics.error_ratio", "metrics.alert_firing", "metrics.restarts", "k8s.deployment_unavailable", "k8s.warning_events", "k8s.service_no_endpoints", "net.http_error", "net.tcp_refused", "aws.targets_unhealthy", "logs.error_spike"], "containers keep crashing"),
        .init(.k8sOOMKilled, .cause, .workload, explains: ["metrics.error_ratio", "metrics.alert_firing", "metrics.restarts", "tag:oom", "k8s.crashloop", "k8s.deployment_unavailable", "k8s.warning_events", "k8s.service_no_endpoints", "net.http_error"], "containers are killed for exceeding their memory limit"),
        .init(.k8sImagePull, .cause, .workload, explains: ["k8s.deployment_unavailable", "k8s.warning_events", "k8s.service_no_endpoints"], "an image cannot be pulled"),
        .init(.k8sUnschedulable, .cause, .workload, explains: ["k8s.deployment_unavailable", "k8s.warning_events", "k8s.service_no_endpoints"], "pods cannot be scheduled"),
        .init(.k8sDeploymentUnavailable, .symptom, .workload, "a deployment has fewer ready replicas than desired"),
        .init(.k8sServiceNoEndpoints, .symptom, .workload, explains: ["net.http_error", "net.tcp_refused"], "a service has no ready endpoints"),
        .init(.k8sNodeNotReady, .cause, .node, explains: ["k8s.unschedulable", "k8s.deployment_unavailable", "k8s.warning_events", "k8s.service_no_endpoints"], "a node is not ready"),
        .init(.k8sNodePressure, .cause, .node, explains: ["k8s.unschedulable", "k8s.warning_events", "k8s.deployment_unavailable"], "a node reports memory, disk or PID pressure"),
        .init(.k8sPVCPending, .cause, .workload, explains: ["k8s.unschedulable", "k8s.deployment_unavailable", "k8s.warning_events"], "a volume claim is not bound"),
        .init(.k8sJobFailed, .cause, .workload, explains: ["k8s.warning_events"], "a job failed"),
        .init(.k8sWarningEvents, .symptom, .workload, "the cluster reports warning events"),
        .init(.k8sOK, .healthy, .workload, "the cluster checks passed"),
        .init(.awsRDSUnavailable, .cause, .cloudResource, explains: ["metrics.alert_firing", "metrics.error_ratio", "aws.alarm_firing", "tag:disk_full", "db.unreachable", "net.tcp_refused", "net.tcp_timeout", "logs.error_spike", "logs.error_signature", "net.http_error"], "an RDS instance is not available"),
        .init(.awsAlarmFiring, .symptom, .cloudResource, "a CloudWatch alarm is firing"),
        .init(.awsEC2Impaired, .cause, .cloudResource, explains: ["aws.targets_unhealthy", "k8s.node_not_ready", "aws.alarm_firing", "net.tcp_timeout"], "an EC2 instance fails its status checks"),
        .init(.awsTargetsUnhealthy, .symptom, .cloudResource, explains: ["net.http_error"], "load balancer targets are unhealthy"),
        .init(.awsLogErrors, .symptom, .logSource, "CloudWatch Logs show errors"),
        .init(.awsOK, .healthy, .cloudResource, "the cloud checks passed"),
        .init(.metricsAlertFiring, .symptom, .metric, "a Prometheus alert is firing"),
        .init(.metricsAlertPending, .symptom, .metric, "a Prometheus alert is pending (its condition holds, not yet for long enough)"),
        .init(.metricsTargetDown, .cause, .endpoint, explains: ["net.tcp_refused", "net.tcp_timeout", "tag:connection_refused", "metrics.alert_firing", "metrics.alert_pending", "net.http_error", "metrics.error_ratio", "metrics.traffic"], "an instance does not answer Prometheus' scrapes"),
        .init(.metricsErrorRatio, .symptom, .endpoint, "a service's error ratio rose"),
        .init(.metricsLatency, .symptom, .endpoint, "a service's latency rose"),
        .init(.metricsTraffic, .symptom, .endpoint, "a service's traffic changed sharply"),
        .init(.metricsSaturation, .cause, .host, explains: ["metrics.latency", "metrics.error_ratio", "metrics.alert_firing", "metrics.alert_pending", "net.http_slow", "host.load_high", "tag:disk_full", "tag:too_many_clients"], "a resource is nearly used up (disk, memory, CPU, connections)"),
        .init(.metricsRestarts, .cause, .workload, explains: ["metrics.error_ratio", "metrics.alert_firing", "net.http_error", "k8s.deployment_unavailable", "tag:oom"], "containers keep restarting"),
        .init(.metricsQueryFailed, .meta, .metric, "a metrics query failed: the signal was not examined"),
        .init(.metricsUnreachable, .meta, .metric, "the metrics backend could not be queried: metrics were not examined"),
        .init(.metricsOK, .healthy, .metric, "the metrics checks passed"),
        .init(.commandFailed, .symptom, .check, "a command check failed"),
        .init(.commandOK, .healthy, .check, "a command check passed"),
        .init(.credResolveFailed, .meta, .credential, "a credential could not be resolved"),
        .init(.credDenied, .meta, .credential, "a credential was not approved"),
        .init(.credExpired, .meta, .credential, "a credential's approval or lifetime expired"),
    ]
}
