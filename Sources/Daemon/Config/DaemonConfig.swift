import DiagnosisModel

/// The daemon's whole configuration (docs/DESIGN.md §12), with a default for every key.
public struct DaemonConfig: Sendable {
    public var server = Server()
    public var runners = Runners()
    public var approval = Approval()
    public var auth = Auth()
    public var secrets = Secrets()
    public var llm = LLM()
    public var storage = Storage()
    public var logging = Logging()
    public var playbooks = Playbooks()
    public var intake = Intake()
    public var notifications = Notifications()
    public var environments: [String: EnvironmentInventory] = ["local": DaemonConfig.localEnvironment]

    public init() {}

    /// Works on any machine without credentials: this host, its journal, and the usual local
    /// PostgreSQL port.
    public static let localEnvironment = EnvironmentInventory(
        name: "local",
        logs: LogsInventory(lookbackSeconds: 1800),
        network: NetworkInventory(endpoints: ["tcp://127.0.0.1:5432"]),
        host: HostInventory()
    )

    public struct Server: Sendable {
        public var listen: [ListenAddress] = [.tcp(host: "127.0.0.1", port: 32100)]
        public var maxBodyBytes = 65536
        /// Diagnoses one person (token, or local account) may start per minute.
        public var diagnoseRatePerMinute = 30
        /// Diagnoses all callers together may start per minute.
        public var diagnoseRatePerMinuteTotal = 120
        /// Sessions not yet finished (running or awaiting approval), per person and in total.
        public var maxOpenSessionsPerIdentity = 10
        public var maxOpenSessions = 100
        public var idleTimeout: Duration = .seconds(75)
        /// A request's head must arrive this long after the connection opens.
        public var headerTimeout: Duration = .seconds(10)
        /// A request's body must arrive this long after its head.
        public var bodyTimeout: Duration = .seconds(30)
        /// Open connections at most (the daemon also keeps this below its file-descriptor limit).
        public var maxConnections = 4096
        /// Host names (besides localhost and IP addresses) the API answers to.
        public var allowedHosts: [String] = []
    }

    public struct Runners: Sendable {
        public var maxConcurrent = 8
        public var deadline: Duration = .seconds(60)
        /// Time between the cancel frame, SIGTERM and SIGKILL.
        public var killGrace: Duration = .seconds(2)
        /// Path of `sre-diagnose-runner`; nil means next to the daemon executable.
        public var executable: String?
        public var maxFrameBytes = 1 << 20
        /// Runners kept started and authenticated, waiting for a job (0 disables); counted in
        /// `max_concurrent`.
        public var warm = 2
        public var launcher: Launcher = .local
        /// Where runners started elsewhere connect back; the kubernetes launcher needs it.
        public var endpoint: Endpoint?
        public var kubernetes: Kubernetes?

        /// How runners start: processes on this host, or Kubernetes Jobs near their targets.
        public enum Launcher: String, Sendable { case local, kubernetes }

        /// `runners.endpoint`: TCP with TLS for runners that are not on this host.
        public struct Endpoint: Sendable {
            public var host = "0.0.0.0"
            public var port = 32101
            /// What runners dial, `tls://HOST:PORT` (a Service name in a cluster).
            public var advertise = ""
            public var certificate = ""
            public var key = ""
            /// The CA that signed `certificate`: handed to runners, which trust nothing else.
            public var caFile = ""
            /// The name runners check in the certificate (default: the advertised host).
            public var serverName: String?
        }

        /// `runners.kubernetes`: where and how the runner Jobs run.
        public struct Kubernetes: Sendable {
            /// nil: the in-cluster API (`KUBERNETES_SERVICE_HOST`/`_PORT`).
            public var apiURL: String?
            /// A kubeconfig whose current context names the API, token and CA (outside a cluster).
            public var kubeconfig: String?
            /// The service account token and the cluster CA; defaults: the pod's own.
            public var tokenFile = "\(KubernetesAPI.serviceAccountDirectory)/token"
            public var caFile: String?
            /// Empty: the daemon pod's own namespace.
            public var namespace = ""
            public var image = ""
            public var command = ["/usr/bin/sre-diagnose-runner"]
            public var serviceAccount: String?
            public var cpu = "250m"
            public var memory = "256Mi"
            public var ttlAfterFinished: Duration = .seconds(300)
        }
    }

    public struct Approval: Sendable {
        public var timeout: Duration = .seconds(600)
        /// Off unless listed; used only by the alert routes that name them.
        public var standing: [StandingApproval] = []
    }

    public struct Identity: Sendable, Equatable {
        public var name: String
        /// Where the bearer token is read from at start-up (`cred://`, `file://`, `env://`).
        public var token: CredentialReference
    }

    public struct Auth: Sendable {
        public var approvers: [Identity] = []
        /// Empty: loopback TCP clients and the Unix socket may request diagnoses.
        public var requesters: [Identity] = []
        public var unixSocketApproverGroup: String? = "sre-approvers"
    }

    public struct Secrets: Sendable {
        public enum OnePasswordMode: String, Sendable { case none, cli, connect }
        public var onePasswordMode: OnePasswordMode = .none
        public var onePasswordServiceAccountToken: CredentialReference?
        public var onePasswordCLI = "op"
        public var onePasswordConnectHost: String?
        public var onePasswordConnectToken: CredentialReference?
        public var allowEnvRefs = false
        public var allowFileRefs = false
        /// When set, `file://` references must lie below one of these directories.
        public var fileDirectories: [String] = []
        public var resolveTimeout: Duration = .seconds(15)
    }

    public struct LLM: Sendable {
        public enum Provider: String, Sendable { case none, openai }
        public var provider: Provider = .none
        public var baseURL: String?
        public var model: String?
        public var apiKey: CredentialReference?
        public var timeout: Duration = .seconds(30)
    }

    public struct Storage: Sendable {
        /// nil: `$STATE_DIRECTORY`, else `$XDG_STATE_HOME/sre-diagnose`, else `~/.local/state/sre-diagnose`.
        public var stateDirectory: String?
        /// nil: `$RUNTIME_DIRECTORY`, else `<state>/run`.
        public var runtimeDirectory: String?
        public var retentionDays = 30
        public var backend: Backend = .sqlite
        /// Set when `backend` is `postgres`.
        public var postgres: Postgres?

        /// Where sessions live: one daemon's SQLite file, or a PostgreSQL several daemons share.
        public enum Backend: String, Sendable { case sqlite, postgres }

        /// `storage.postgres`: the shared store, and how long a daemon's hold on a session lasts
        /// without renewal before another daemon takes the session over.
        public struct Postgres: Sendable {
            public var host = "127.0.0.1"
            public var port = 5432
            public var database = "sre_diagnose"
            public var user = "sre_diagnose"
            /// The password, read at start-up (`cred://`, `file://`, `env://`).
            public var credential: CredentialReference?
            public var tls = false
            public var caFile: String?
            public var lease: Duration = .seconds(15)
        }
    }

    public struct Logging: Sendable {
        public enum Target: String, Sendable { case auto, journal, stderr }
        public var level = "info"
        public var target: Target = .auto
    }

    public struct Playbooks: Sendable {
        /// Extra playbook directories; the built-in playbooks are always loaded first.
        public var directories: [String] = []
    }
}

/// Where the HTTP API listens when not socket-activated.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// `127.0.0.1:32100`, `[::1]:32100` or `unix:/run/sre-diagnose/api.sock`.
    public init?(parsing text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/"), path.utf8.count < 108 else { return nil }
            self = .unix(path: path)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self = .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}
