/// What an environment contains, from `environments.<name>` in the configuration. Names and
/// credential *references* only — never a secret value — so the inventory may be shown to users
/// and to an LLM planner.
public struct EnvironmentInventory: Codable, Sendable, Equatable {
    public var name: String
    public var databases: [DatabaseTarget]
    public var aws: AWSInventory?
    public var kubernetes: KubernetesInventory?
    public var logs: LogsInventory?
    public var network: NetworkInventory?
    public var host: HostInventory?
    /// Prometheus-API metrics and alerts.
    public var metrics: MetricsInventory?
    /// User-defined command checks (tools the built-in probes do not cover).
    public var checks: [CommandCheck]
    /// A CA bundle the probes trust besides the system's (an internal CA), from `tls.ca_file`.
    public var caFile: String?

    public init(
        name: String,
        databases: [DatabaseTarget] = [],
        aws: AWSInventory? = nil,
        kubernetes: KubernetesInventory? = nil,
        logs: LogsInventory? = nil,
        network: NetworkInventory? = nil,
        host: HostInventory? = nil,
        metrics: MetricsInventory? = nil,
        checks: [CommandCheck] = []
    ) {
        self.metrics = metrics
        self.name = name
        self.databases = databases
        self.aws = aws
        self.kubernetes = kubernetes
        self.logs = logs
        self.network = network
        self.host = host
        self.checks = checks
    }

    /// The domains this environment can be examined in.
    public var domains: [Domain] {
        var result: [Domain] = []
        if !databases.isEmpty { result.append(.database) }
        if aws != nil { result.append(.cloud) }
        if kubernetes != nil { result.append(.kubernetes) }
        if logs != nil { result.append(.logs) }
        if network != nil { result.append(.network) }
        if host != nil { result.append(.host) }
        if metrics != nil { result.append(.metrics) }
        for check in checks where !result.contains(check.domain) { result.append(check.domain) }
        return result.sorted()
    }
}

/// A user-defined check: run a command (credential fields in its environment only) and turn its
/// exit code, a regex or a JSON value into a finding.
public struct CommandCheck: Codable, Sendable, Equatable {
    public var name: String
    public var domain: Domain
    public var command: String
    public var args: [String]
    /// Credential reference whose fields feed `env`.
    public var credential: String?
    /// Credential field → environment variable of the command.
    public var env: [String: String]
    public var timeoutSeconds: Double?
    /// Probe parameters: `code`, `severity`, `title`, `remediation`, `fail_regex`, `json_path`,
    /// `expect`, `ok_exit_codes`.
    public var options: [String: JSONValue]

    public init(name: String, domain: Domain, command: String, args: [String] = [], credential: String? = nil, env: [String: String] = [:], timeoutSeconds: Double? = nil, options: [String: JSONValue] = [:]) {
        self.name = name
        self.domain = domain
        self.command = command
        self.args = args
        self.credential = credential
        self.env = env
        self.timeoutSeconds = timeoutSeconds
        self.options = options
    }

    enum CodingKeys: String, CodingKey {
        case name, domain, command, args, credential, env, options
        case timeoutSeconds = "timeout_s"
    }

    /// The `command` probe request for this check.
    public var probeRequest: ProbeRequest {
        var params = options
        params["command"] = .string(command)
        params["args"] = .array(args.map(JSONValue.string))
        if !env.isEmpty { params["env"] = .object(env.mapValues(JSONValue.string)) }
        return ProbeRequest(id: "command#\(name)", probe: "command", target: name, params: params, credential: credential, timeoutSeconds: timeoutSeconds)
    }
}

/// How a PostgreSQL connection uses TLS (libpq's `sslmode` subset).
public enum TLSMode: String, Codable, Sendable, CaseIterable {
    case disable, prefer, require
}

/// A database engine the probes know; each has one catalogue probe (``ProbeCatalog/probe(for:)``).
public enum DatabaseEngine: String, Codable, Sendable, CaseIterable {
    case postgres
}

public struct DatabaseTarget: Codable, Sendable, Equatable {
    public var name: String
    public var engine: DatabaseEngine
    public var host: String
    public var port: Int
    public var database: String
    /// Used when the credential does not name a user.
    public var user: String?
    /// Credential reference (`op://…`, `cred://…`), or nil for trust/peer authentication.
    public var credential: String?
    public var tls: TLSMode

    public init(
        name: String, engine: DatabaseEngine = .postgres, host: String, port: Int = 5432, database: String,
        user: String? = nil, credential: String? = nil, tls: TLSMode = .prefer
    ) {
        self.name = name
        self.engine = engine
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.credential = credential
        self.tls = tls
    }
}

public struct AWSInventory: Codable, Sendable, Equatable {
    public var region: String
    public var credential: String?
    /// Endpoint override (a local stand-in, a VPC endpoint); passed as `--endpoint-url`.
    public var endpointURL: String?
    /// CloudWatch Logs groups searched for error patterns.
    public var logGroups: [String]

    public init(region: String, credential: String? = nil, endpointURL: String? = nil, logGroups: [String] = []) {
        self.region = region
        self.credential = credential
        self.endpointURL = endpointURL
        self.logGroups = logGroups
    }

    enum CodingKeys: String, CodingKey {
        case region, credential
        case endpointURL = "endpoint_url"
        case logGroups = "log_groups"
    }
}

public struct KubernetesInventory: Codable, Sendable, Equatable {
    /// Credential whose value is a whole kubeconfig file.
    public var kubeconfigCredential: String?
    /// A kubeconfig path on the daemon host, used when no credential is given.
    public var kubeconfig: String?
    public var context: String?
    public var namespaces: [String]

    public init(kubeconfigCredential: String? = nil, kubeconfig: String? = nil, context: String? = nil, namespaces: [String] = []) {
        self.kubeconfigCredential = kubeconfigCredential
        self.kubeconfig = kubeconfig
        self.context = context
        self.namespaces = namespaces
    }

    enum CodingKeys: String, CodingKey {
        case kubeconfigCredential = "kubeconfig_credential"
        case kubeconfig, context, namespaces
    }
}

public struct LogsInventory: Codable, Sendable, Equatable {
    /// Whether the journal is read at all (`journald:` present in the configuration).
    public var journald: Bool
    public var journaldUnits: [String]
    /// Read a journal directory or files instead of the system journal (`journalctl -D`/`--file`).
    public var journalDirectory: String?
    public var journalFiles: [String]
    public var files: [String]
    /// How far back to look, in seconds.
    public var lookbackSeconds: Int

    public init(
        journald: Bool = true, journaldUnits: [String] = [], journalDirectory: String? = nil, journalFiles: [String] = [],
        files: [String] = [], lookbackSeconds: Int = 1800
    ) {
        self.journald = journald
        self.journaldUnits = journaldUnits
        self.journalDirectory = journalDirectory
        self.journalFiles = journalFiles
        self.files = files
        self.lookbackSeconds = lookbackSeconds
    }

    enum CodingKeys: String, CodingKey {
        case journald
        case journaldUnits = "journald_units"
        case journalDirectory = "journal_directory"
        case journalFiles = "journal_files"
        case files
        case lookbackSeconds = "lookback_s"
    }
}

public struct NetworkInventory: Codable, Sendable, Equatable {
    /// `tcp://host:port`, `tls://host:port`, `http(s)://…`, `dns://name`.
    public var endpoints: [String]

    public init(endpoints: [String] = []) { self.endpoints = endpoints }
}

public struct HostInventory: Codable, Sendable, Equatable {
    /// Mount points to check; empty means every real file system.
    public var mounts: [String]
    /// Usage (percent) from which a mount is reported as nearly full.
    public var diskWarnPercent: Double
    public var diskCriticalPercent: Double

    public init(mounts: [String] = [], diskWarnPercent: Double = 85, diskCriticalPercent: Double = 95) {
        self.mounts = mounts
        self.diskWarnPercent = diskWarnPercent
        self.diskCriticalPercent = diskCriticalPercent
    }

    enum CodingKeys: String, CodingKey {
        case mounts
        case diskWarnPercent = "disk_warn_percent"
        case diskCriticalPercent = "disk_critical_percent"
    }
}
