/// A probe's public description: what the planner, the LLM (as a tool) and users see.
/// The implementations live on the runner side; a test keeps both lists equal.
public struct ProbeInfo: Codable, Sendable, Equatable {
    public struct Parameter: Codable, Sendable, Equatable {
        public var name: String
        /// `string`, `integer`, `number`, `boolean`, `array`.
        public var type: String
        public var required: Bool
        public var summary: String
        /// A threshold or selection the LLM planner may set; connection details never are.
        public var tunable: Bool

        public init(_ name: String, _ type: String, required: Bool = false, _ summary: String, tunable: Bool = false) {
            self.name = name
            self.type = type
            self.required = required
            self.summary = summary
            self.tunable = tunable
        }

        /// A parameter the LLM planner may tune.
        public static func tuning(_ name: String, _ type: String, _ summary: String) -> Parameter {
            Parameter(name, type, summary, tunable: true)
        }
    }

    public var name: String
    public var domain: Domain
    public var summary: String
    /// What `target` means for this probe.
    public var target: String
    public var parameters: [Parameter]
    public var defaultTimeoutSeconds: Double
    /// Finding codes the probe can report.
    public var codes: [FindingCode]
    /// For a database probe: the engine whose inventory entries it examines.
    public var engine: DatabaseEngine?

    public init(name: String, domain: Domain, summary: String, target: String, parameters: [Parameter] = [], defaultTimeoutSeconds: Double, codes: [FindingCode], engine: DatabaseEngine? = nil) {
        self.engine = engine
        self.name = name
        self.domain = domain
        self.summary = summary
        self.target = target
        self.parameters = parameters
        self.defaultTimeoutSeconds = defaultTimeoutSeconds
        self.codes = codes
    }

    enum CodingKeys: String, CodingKey {
        case name, domain, summary, target, parameters, codes, engine
        case defaultTimeoutSeconds = "default_timeout_s"
    }
}

/// Every built-in probe.
public enum ProbeCatalog {
    public static let all: [ProbeInfo] = database + network + host + logs + cloud + kubernetes + metrics + command

    public static func info(_ name: String) -> ProbeInfo? { all.first { $0.name == name } }

    /// The probe that examines databases of `engine`.
    public static func probe(for engine: DatabaseEngine) -> ProbeInfo? { all.first { $0.engine == engine } }

    static let database: [ProbeInfo] = [
        ProbeInfo(
            name: "db.postgres", domain: .database,
            summary: "Examine a PostgreSQL server: DNS, TCP, TLS and login, then connection slots, lock contention, idle-in-transaction sessions, long queries and replication lag (read-only, with a statement timeout).",
            target: "the database's name in the inventory",
            parameters: [
                .init("host", "string", required: true, "server host"), .init("port", "integer", "server port (5432)"),
                .init("database", "string", "database name"), .init("user", "string", "user when the credential has none"),
                .init("tls", "string", "disable | prefer | require"),
                .tuning("checks", "array", "subset of connections, locks, idle_in_transaction, long_queries, replication"),
                .tuning("idle_in_transaction_s", "number", "threshold (60)"), .tuning("long_query_s", "number", "threshold (30)"),
                .tuning("replication_lag_s", "number", "threshold (30)"), .tuning("saturation_ratio", "number", "slots used that count as saturated (0.9)"),
                .init("reported", "string", "what the user reported (slow: stricter severities, said in the finding)"),
            ],
            defaultTimeoutSeconds: 30,
            codes: [.dbDNSFailure, .dbUnreachable, .dbTLSError, .dbAuthFailed, .dbConnectionsSaturated, .dbLockContention, .dbIdleInTransaction, .dbLongRunningQuery, .dbReplicationLag, .dbOK],
            engine: .postgres
        ),
    ]

    static let network: [ProbeInfo] = [
        ProbeInfo(
            name: "net.tcp_connect", domain: .network,
            summary: "Resolve a host name and open a TCP connection; reports DNS failures, refused connections and timeouts with timings.",
            target: "host:port",
            parameters: [.init("connect_timeout_s", "number", "TCP connect timeout (default 3 s)")],
            defaultTimeoutSeconds: 10,
            codes: [.netDNSFailure, .netTCPRefused, .netTCPTimeout, .netOK]
        ),
        ProbeInfo(
            name: "net.dns", domain: .network,
            summary: "Resolve a host name and time it.",
            target: "a host name",
            parameters: [.tuning("slow_ms", "number", "resolution slower than this is reported (1000)")],
            defaultTimeoutSeconds: 10, codes: [.netDNSFailure, .netOK]
        ),
        ProbeInfo(
            name: "net.dns_record", domain: .network,
            summary: "Check that a host name resolves to the expected addresses (a record or cache left pointing at the old host after a failover).",
            target: "a host name",
            parameters: [.init("expect", "array", required: true, "the addresses the name should resolve to")],
            defaultTimeoutSeconds: 10, codes: [.netDNSMismatch, .netDNSFailure, .netOK]
        ),
        ProbeInfo(
            name: "net.tls", domain: .network,
            summary: "TLS handshake to host:port: certificate expired or expiring soon, chain not trusted, name mismatch.",
            target: "host:port",
            parameters: [
                .init("server_name", "string", "name to verify (default: the host)"), .tuning("expiry_warn_days", "number", "warn when fewer days remain (14)"),
                .init("ca_file", "string", "PEM bundle of CAs to trust besides the system store"),
            ],
            defaultTimeoutSeconds: 15, codes: [.netTLSExpired, .netTLSExpiring, .netTLSUntrusted, .netDNSFailure, .netTCPRefused, .netTCPTimeout, .netOK]
        ),
        ProbeInfo(
            name: "net.http", domain: .network,
            summary: "HTTP(S) health check with curl: status, latency, body size.",
            target: "an http:// or https:// URL",
            parameters: [
                .tuning("timeout_s", "number", "request timeout (10)"), .tuning("slow_ms", "number", "slower is reported (2000)"),
                .init("expect_status", "array", "healthy status codes (default 200–399)"), .init("ca_file", "string", "CA bundle"),
                .init("reported", "string", "what the user reported (slow: a slow answer is high)"),
            ],
            defaultTimeoutSeconds: 20, codes: [.netHTTPError, .netHTTPSlow, .netTLSUntrusted, .netDNSFailure, .netTCPRefused, .netOK]
        ),
    ]

    static let host: [ProbeInfo] = [
        ProbeInfo(
            name: "host.disk", domain: .host, summary: "Disk space and inodes per mounted file system (statvfs).", target: "disks",
            parameters: [.init("mounts", "array", "mount points (default: every data file system)"), .tuning("warn_percent", "number", "85"), .tuning("critical_percent", "number", "95")],
            defaultTimeoutSeconds: 10, codes: [.hostDiskFull, .hostInodesExhausted, .hostOK]
        ),
        ProbeInfo(
            name: "host.memory", domain: .host, summary: "Available memory, swap and memory pressure (PSI).", target: "memory",
            parameters: [.init("available_percent", "number", "report below this (10)")],
            defaultTimeoutSeconds: 10, codes: [.hostMemoryPressure, .hostOK]
        ),
        ProbeInfo(
            name: "host.load", domain: .host, summary: "Load average against CPUs, and CPU pressure.", target: "cpu",
            parameters: [.init("load_per_cpu", "number", "report above this (2)")],
            defaultTimeoutSeconds: 10, codes: [.hostLoadHigh, .hostOK]
        ),
        ProbeInfo(
            name: "host.oom", domain: .host, summary: "OOM kills in the kernel log over the lookback window.", target: "kernel",
            parameters: [.tuning("lookback_s", "integer", "seconds (3600)"), .init("journal_directory", "string", "read this journal directory"), .init("journal_files", "array", "read these journal files")],
            defaultTimeoutSeconds: 20, codes: [.hostOOMKill, .hostOK]
        ),
    ]

    static let logs: [ProbeInfo] = [
        ProbeInfo(
            name: "logs.journald", domain: .logs,
            summary: "Error lines of systemd units in the journal over the lookback window, grouped into signatures; error-rate spikes.",
            target: "unit names or journal",
            parameters: [
                .init("units", "array", "systemd units"), .tuning("lookback_s", "integer", "seconds (1800)"),
                .init("journal_directory", "string", "journalctl -D"), .init("journal_files", "array", "journalctl --file"),
                .tuning("top", "integer", "signatures reported (5)"), .tuning("min_count", "integer", "occurrences to report a signature (3)"),
            ],
            defaultTimeoutSeconds: 30, codes: [.logsErrorSignature, .logsErrorSpike, .logsOK, .logsNoData]
        ),
        ProbeInfo(
            name: "logs.files", domain: .logs,
            summary: "Error lines in log files (globs), tail window only, rotation-aware, grouped into signatures; error-rate spikes.",
            target: "a glob such as /var/log/app/*.log",
            parameters: [.init("paths", "array", "globs (default: the target)"), .tuning("lookback_s", "integer", "seconds (1800)"), .init("max_bytes", "integer", "bytes read per file (8 MiB)")],
            defaultTimeoutSeconds: 30, codes: [.logsErrorSignature, .logsErrorSpike, .logsOK, .logsNoData]
        ),
    ]

    static let awsParameters: [ProbeInfo.Parameter] = [
        .init("region", "string", required: true, "AWS region"), .init("endpoint_url", "string", "endpoint override (a VPC endpoint, a local stand-in)"),
    ]

    static let cloud: [ProbeInfo] = [
        ProbeInfo(name: "aws.rds", domain: .cloud, summary: "RDS DB instances that are not available (storage-full, failed, rebooting…) with their recent events.", target: "the AWS region",
                  parameters: awsParameters, defaultTimeoutSeconds: 60, codes: [.awsRDSUnavailable, .credExpired, .awsOK]),
        ProbeInfo(name: "aws.alarms", domain: .cloud, summary: "CloudWatch alarms in the ALARM state, with reason and metric.", target: "the AWS region",
                  parameters: awsParameters, defaultTimeoutSeconds: 60, codes: [.awsAlarmFiring, .credExpired, .awsOK]),
        ProbeInfo(name: "aws.ec2", domain: .cloud, summary: "EC2 instances whose instance or system status checks fail.", target: "the AWS region",
                  parameters: awsParameters, defaultTimeoutSeconds: 60, codes: [.awsEC2Impaired, .credExpired, .awsOK]),
        ProbeInfo(name: "aws.targets", domain: .cloud, summary: "ELBv2 target groups with unhealthy targets and their reasons.", target: "the AWS region",
                  parameters: awsParameters, defaultTimeoutSeconds: 90, codes: [.awsTargetsUnhealthy, .credExpired, .awsOK]),
        ProbeInfo(name: "aws.logs", domain: .cloud, summary: "CloudWatch Logs error events in the configured log groups, grouped into signatures.", target: "log groups",
                  parameters: awsParameters + [.init("log_groups", "array", required: true, "log group names"), .tuning("lookback_s", "integer", "seconds (1800)")],
                  defaultTimeoutSeconds: 90, codes: [.awsLogErrors, .credExpired, .awsOK]),
    ]

    static let kubernetesParameters: [ProbeInfo.Parameter] = [
        .init("namespaces", "array", "namespaces (default: the inventory's)"), .init("context", "string", "kubeconfig context"),
        .init("kubeconfig", "string", "kubeconfig path when no credential is used"),
    ]

    static let kubernetes: [ProbeInfo] = [
        ProbeInfo(name: "k8s.workloads", domain: .kubernetes,
                  summary: "Pods crash-looping (with the previous container's log), OOMKilled, failing image pulls or unschedulable; deployments, statefulsets and daemonsets with unavailable replicas or stuck rollouts.",
                  target: "namespaces", parameters: kubernetesParameters, defaultTimeoutSeconds: 60,
                  codes: [.k8sCrashloop, .k8sOOMKilled, .k8sImagePull, .k8sUnschedulable, .k8sDeploymentUnavailable, .k8sOK]),
        ProbeInfo(name: "k8s.nodes", domain: .kubernetes, summary: "Nodes NotReady or under memory, disk or PID pressure.", target: "the cluster",
                  parameters: kubernetesParameters, defaultTimeoutSeconds: 30, codes: [.k8sNodeNotReady, .k8sNodePressure, .k8sOK]),
        ProbeInfo(name: "k8s.services", domain: .kubernetes, summary: "Services whose selector matches no ready pod.", target: "namespaces",
                  parameters: kubernetesParameters, defaultTimeoutSeconds: 30, codes: [.k8sServiceNoEndpoints, .k8sOK]),
        ProbeInfo(name: "k8s.storage", domain: .kubernetes, summary: "Persistent volume claims stuck in Pending.", target: "namespaces",
                  parameters: kubernetesParameters, defaultTimeoutSeconds: 30, codes: [.k8sPVCPending, .k8sOK]),
        ProbeInfo(name: "k8s.jobs", domain: .kubernetes, summary: "Jobs that failed.", target: "namespaces",
                  parameters: kubernetesParameters, defaultTimeoutSeconds: 30, codes: [.k8sJobFailed, .k8sOK]),
        ProbeInfo(name: "k8s.events", domain: .kubernetes, summary: "Warning events aggregated by reason and object.", target: "namespaces",
                  parameters: kubernetesParameters, defaultTimeoutSeconds: 30, codes: [.k8sWarningEvents, .k8sOK]),
    ]

    /// Read-only calls to a Prometheus-compatible HTTP API; the connection parameters are the
    /// inventory's, never the model's.
    static let metricsConnection: [ProbeInfo.Parameter] = [
        .init("url", "string", required: true, "the Prometheus API base URL"), .init("ca_file", "string", "CA bundle"),
        .tuning("timeout_s", "number", "per-query timeout (10)"),
    ]

    static let metrics: [ProbeInfo] = [
        ProbeInfo(
            name: "metrics.alerts", domain: .metrics,
            summary: "Firing and pending Prometheus alerts, one finding per alert group, with labels, since when, severity and annotations.",
            target: "the Prometheus URL", parameters: metricsConnection,
            defaultTimeoutSeconds: 20, codes: [.metricsAlertFiring, .metricsAlertPending, .metricsUnreachable, .metricsQueryFailed, .metricsOK]
        ),
        ProbeInfo(
            name: "metrics.targets", domain: .metrics,
            summary: "Scrape targets that are down: job, instance, the last scrape error and since when.",
            target: "the Prometheus URL", parameters: metricsConnection,
            defaultTimeoutSeconds: 20, codes: [.metricsTargetDown, .metricsUnreachable, .metricsQueryFailed, .metricsOK]
        ),
        ProbeInfo(
            name: "metrics.signals", domain: .metrics,
            summary: "Golden signals (error ratio, p99 latency, saturation, traffic) of the service and the well-known exporters: the recent window against the hour before, reported only when the change is material, with its start time and a chart.",
            target: "a service name, or the Prometheus URL",
            parameters: metricsConnection + [
                .init("signals", "array", "configured signals: {kind, query, threshold, unit, service}"),
                .init("builtin", "boolean", "also try node_exporter, postgres_exporter and kube-state-metrics signals (true)"),
                .tuning("range_s", "number", "how far back to read (10800)"), .tuning("recent_s", "number", "the recent window (900)"),
                .tuning("baseline_s", "number", "the baseline before it (3600)"), .tuning("day_before", "boolean", "also compare with the same window a day earlier"),
                .tuning("min_factor", "number", "a change smaller than this factor is not material (2)"),
            ],
            defaultTimeoutSeconds: 40,
            codes: [.metricsErrorRatio, .metricsLatency, .metricsTraffic, .metricsSaturation, .metricsRestarts, .metricsTargetDown, .metricsUnreachable, .metricsQueryFailed, .metricsOK]
        ),
    ]

    /// User-defined command probes (playbooks): any domain.
    static let command: [ProbeInfo] = [
        ProbeInfo(
            name: "command", domain: .host,
            summary: "Run a configured command with credential fields in its environment and turn its exit code, a regex or a JSON value into a finding.",
            target: "a label for the command",
            parameters: [
                .init("command", "string", required: true, "executable (absolute or on PATH)"),
                .init("args", "array", "arguments"),
                .init("env", "object", "credential field → environment variable, e.g. {\"password\": \"PGPASSWORD\"}"),
                .init("code", "string", "finding code when the check fails (default command.failed)"),
                .init("severity", "string", "severity when the check fails (default high)"),
                .init("title", "string", "title when the check fails"),
                .init("ok_exit_codes", "array", "exit codes meaning healthy (default [0])"),
                .init("fail_regex", "string", "the check fails when stdout+stderr matches"),
                .init("json_path", "string", "dot path into stdout JSON; with expect: the check fails when the value differs"),
                .init("expect", "string", "expected value at json_path"),
                .init("remediation", "string", "what to do when the check fails"),
            ],
            defaultTimeoutSeconds: 30,
            codes: [.commandFailed, .commandOK]
        ),
    ]
}
