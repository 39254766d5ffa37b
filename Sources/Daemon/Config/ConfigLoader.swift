import DiagnosisModel
import Foundation

/// Reads `config.yaml` (docs/DESIGN.md §12), applies `SRE_DIAGNOSE_*` environment overrides and checks
/// every key, so an invalid configuration stops start-up with the file, key and reason.
public enum ConfigLoader {
    /// Environment variables that override one scalar key each. The name is the key path in
    /// upper case with `.` → `_` (`runners.max_concurrent` → `SRE_DIAGNOSE_RUNNERS_MAX_CONCURRENT`).
    static let overridableKeys = [
        "server.listen", "server.max_body_bytes", "server.diagnose_rate_per_minute", "server.diagnose_rate_per_minute_total",
        "server.max_open_sessions", "server.max_open_sessions_per_identity", "server.max_connections",
        "server.idle_timeout", "server.header_timeout", "server.body_timeout",
        "runners.max_concurrent", "runners.deadline", "runners.kill_grace", "runners.executable", "runners.warm",
        // In a cluster the runner endpoint is the pod's own address (the downward API's POD_IP).
        "runners.endpoint.advertise", "runners.endpoint.server_name",
        "approval.timeout",
        "storage.state_directory", "storage.runtime_directory", "storage.retention_days", "storage.backend",
        "logging.level", "logging.target",
        "secrets.allow_env_refs", "secrets.allow_file_refs",
        "llm.provider", "llm.base_url", "llm.model", "llm.api_key",
    ]

    /// Variables with the prefix that belong to the CLI or to config discovery, not to a key.
    static let nonKeyVariables: Set<String> = ["SRE_DIAGNOSE_CONFIG", "SRE_DIAGNOSE_URL", "SRE_DIAGNOSE_TOKEN", "SRE_DIAGNOSE_TOKEN_FILE"]

    static func environmentName(forKey key: String) -> String {
        "SRE_DIAGNOSE_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Loads `path` (nil: embedded defaults only) and the environment overrides.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> DaemonConfig {
        var tree = ConfigValue.map([], .init(source: "defaults", line: nil))
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                let reason = FileManager.default.fileExists(atPath: path) ? "cannot read the file (permissions?)" : "no such file"
                throw ConfigError(source: path, key: "", reason: reason)
            }
            tree = try ConfigValue.parse(yaml: text, source: path)
        }
        tree = try applyOverrides(to: tree, environment: environment)
        return try parse(tree, baseDirectory: path.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path })
    }

    /// Parses configuration text (tests, `--check-config`).
    public static func load(yaml: String, source: String = "config.yaml") throws(ConfigError) -> DaemonConfig {
        try parse(ConfigValue.parse(yaml: yaml, source: source), baseDirectory: nil)
    }

    static func applyOverrides(to tree: ConfigValue, environment: [String: String]) throws(ConfigError) -> ConfigValue {
        var tree = tree
        let known = Dictionary(uniqueKeysWithValues: overridableKeys.map { (environmentName(forKey: $0), $0) })
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("SRE_DIAGNOSE_") {
            if nonKeyVariables.contains(name) { continue }
            guard let key = known[name] else {
                throw ConfigError(source: "environment", key: name, reason: "unknown override; known: \(known.keys.sorted().joined(separator: ", "))")
            }
            let origin = ConfigValue.Origin(source: "environment \(name)", line: nil)
            let node: ConfigValue = key == "server.listen"
                ? .list(value.split(separator: ",").map { .scalar($0.trimmingCharacters(in: .whitespaces), origin) }, origin)
                : .scalar(value, origin)
            tree = tree.setting(ArraySlice(key.split(separator: ".").map(String.init)), to: node)
        }
        return tree
    }

    /// `tls.ca_file`: an absolute path to a PEM bundle that exists.
    static func caFile(_ tls: ConfigReader) throws(ConfigError) -> String? {
        guard let path = try tls.string("ca_file") else { return nil }
        guard path.hasPrefix("/") else { throw tls.error("ca_file", "\"\(path)\" is not an absolute path") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw tls.error("ca_file", "\(path) does not exist or is not readable") }
        return path
    }

    static func parse(_ tree: ConfigValue, baseDirectory: String?) throws(ConfigError) -> DaemonConfig {
        var config = DaemonConfig()
        let root = try ConfigReader(tree, path: "")

        if let server = try root.mapping("server") {
            if let listen = try server.strings("listen") {
                var addresses: [ListenAddress] = []
                for text in listen {
                    guard let address = ListenAddress(parsing: text) else {
                        throw server.error("listen", "\"\(text)\" is not HOST:PORT or unix:/absolute/path (shorter than 108 bytes)")
                    }
                    addresses.append(address)
                }
                config.server.listen = addresses
            }
            config.server.maxBodyBytes = try server.int("max_body_bytes", in: 1024...(64 << 20)) ?? config.server.maxBodyBytes
            config.server.diagnoseRatePerMinute = try server.int("diagnose_rate_per_minute", in: 1...100_000) ?? config.server.diagnoseRatePerMinute
            config.server.diagnoseRatePerMinuteTotal = try server.int("diagnose_rate_per_minute_total", in: 1...1_000_000) ?? config.server.diagnoseRatePerMinuteTotal
            config.server.maxOpenSessions = try server.int("max_open_sessions", in: 1...100_000) ?? config.server.maxOpenSessions
            config.server.maxOpenSessionsPerIdentity = try server.int("max_open_sessions_per_identity", in: 1...100_000) ?? config.server.maxOpenSessionsPerIdentity
            config.server.idleTimeout = try server.duration("idle_timeout", in: .seconds(1)...(.seconds(3600))) ?? config.server.idleTimeout
            config.server.headerTimeout = try server.duration("header_timeout", in: .milliseconds(100)...(.seconds(600))) ?? config.server.headerTimeout
            config.server.bodyTimeout = try server.duration("body_timeout", in: .milliseconds(100)...(.seconds(3600))) ?? config.server.bodyTimeout
            config.server.maxConnections = try server.int("max_connections", in: 16...1_000_000) ?? config.server.maxConnections
            if let hosts = try server.strings("allowed_hosts") {
                for host in hosts where host.isEmpty || host.contains(where: { $0 == "/" || $0 == ":" || $0 == " " || $0 == "@" }) {
                    throw server.error("allowed_hosts", "\"\(host)\" is not a host name")
                }
                config.server.allowedHosts = hosts
            }
            try server.finish()
        }

        if let runners = try root.mapping("runners") {
            config.runners.maxConcurrent = try runners.int("max_concurrent", in: 1...256) ?? config.runners.maxConcurrent
            config.runners.deadline = try runners.duration("deadline", in: .seconds(1)...(.seconds(3600))) ?? config.runners.deadline
            config.runners.killGrace = try runners.duration("kill_grace", in: .milliseconds(100)...(.seconds(60))) ?? config.runners.killGrace
            config.runners.executable = try runners.string("executable") ?? config.runners.executable
            config.runners.maxFrameBytes = try runners.int("max_frame_bytes", in: 4096...(64 << 20)) ?? config.runners.maxFrameBytes
            config.runners.warm = try runners.int("warm", in: 0...64) ?? config.runners.warm
            let launcher = try runners.string("launcher", oneOf: ["local", "kubernetes"]) ?? "local"
            config.runners.launcher = DaemonConfig.Runners.Launcher(rawValue: launcher) ?? .local
            if let endpoint = try runners.mapping("endpoint") {
                config.runners.endpoint = try runnerEndpoint(endpoint)
            }
            if let kubernetes = try runners.mapping("kubernetes") {
                config.runners.kubernetes = try kubernetesRunners(kubernetes)
            }
            if config.runners.launcher == .kubernetes {
                guard config.runners.kubernetes != nil else { throw runners.error("kubernetes", "launcher kubernetes needs runners.kubernetes (at least image)") }
                guard config.runners.endpoint != nil else { throw runners.error("endpoint", "launcher kubernetes needs runners.endpoint: where the runner Jobs connect back (TLS)") }
            }
            try runners.finish()
        }

        var standingReader: ConfigReader?
        if let approval = try root.mapping("approval") {
            config.approval.timeout = try approval.duration("timeout", in: .seconds(1)...(.seconds(86400))) ?? config.approval.timeout
            // Read once approvers and environments are known.
            standingReader = approval
        }

        if let auth = try root.mapping("auth") {
            config.auth.approvers = try identities(auth, "approvers")
            config.auth.requesters = try identities(auth, "requesters")
            if auth.value("unix_socket_approver_group") != nil {
                config.auth.unixSocketApproverGroup = try auth.string("unix_socket_approver_group")
            }
            try auth.finish()
        }

        if let secrets = try root.mapping("secrets") {
            if let op = try secrets.mapping("onepassword") {
                let mode = try op.string("mode", oneOf: ["none", "cli", "connect"]) ?? "none"
                config.secrets.onePasswordMode = DaemonConfig.Secrets.OnePasswordMode(rawValue: mode) ?? .none
                config.secrets.onePasswordServiceAccountToken = try reference(op, "service_account_token")
                config.secrets.onePasswordCLI = try op.string("cli_path") ?? config.secrets.onePasswordCLI
                config.secrets.onePasswordConnectHost = try op.string("host")
                config.secrets.onePasswordConnectToken = try reference(op, "token")
                switch config.secrets.onePasswordMode {
                case .connect where config.secrets.onePasswordConnectHost == nil:
                    throw op.error("host", "mode connect needs host (the 1Password Connect URL)")
                case .connect where config.secrets.onePasswordConnectToken == nil:
                    throw op.error("token", "mode connect needs token (a credential reference)")
                default: break
                }
                try op.finish()
            }
            config.secrets.allowEnvRefs = try secrets.bool("allow_env_refs") ?? false
            config.secrets.allowFileRefs = try secrets.bool("allow_file_refs") ?? false
            if let directories = try secrets.strings("file_directories") {
                for directory in directories where !directory.hasPrefix("/") {
                    throw secrets.error("file_directories", "\"\(directory)\" is not an absolute path")
                }
                config.secrets.fileDirectories = directories
            }
            config.secrets.resolveTimeout = try secrets.duration("resolve_timeout", in: .seconds(1)...(.seconds(300))) ?? config.secrets.resolveTimeout
            try secrets.finish()
        }

        if let llm = try root.mapping("llm") {
            let provider = try llm.string("provider", oneOf: ["none", "openai"]) ?? "none"
            config.llm.provider = DaemonConfig.LLM.Provider(rawValue: provider) ?? .none
            config.llm.baseURL = try llm.string("base_url")
            config.llm.model = try llm.string("model")
            config.llm.apiKey = try reference(llm, "api_key")
            config.llm.timeout = try llm.duration("timeout", in: .seconds(1)...(.seconds(600))) ?? config.llm.timeout
            if config.llm.provider == .openai {
                guard let base = config.llm.baseURL, URL(string: base)?.scheme?.hasPrefix("http") == true else {
                    throw llm.error("base_url", "provider openai needs base_url, e.g. http://127.0.0.1:11434/v1")
                }
                guard config.llm.model != nil else { throw llm.error("model", "provider openai needs a model name") }
            }
            try llm.finish()
        }

        if let storage = try root.mapping("storage") {
            config.storage.stateDirectory = try storage.string("state_directory")
            config.storage.runtimeDirectory = try storage.string("runtime_directory")
            config.storage.retentionDays = try storage.int("retention_days", in: 1...3650) ?? config.storage.retentionDays
            let backend = try storage.string("backend", oneOf: ["sqlite", "postgres"]) ?? "sqlite"
            config.storage.backend = DaemonConfig.Storage.Backend(rawValue: backend) ?? .sqlite
            if let postgres = try storage.mapping("postgres") {
                var settings = DaemonConfig.Storage.Postgres()
                settings.host = try postgres.string("host") ?? settings.host
                settings.port = try postgres.int("port", in: 1...65535) ?? settings.port
                settings.database = try postgres.string("database") ?? settings.database
                settings.user = try postgres.string("user") ?? settings.user
                settings.credential = try reference(postgres, "credential")
                if settings.credential?.scheme == "op" {
                    throw postgres.error("credential", "the store's password is read at start-up from cred://, file:// or env://, not from 1Password")
                }
                settings.tls = try postgres.bool("tls") ?? false
                settings.caFile = try postgres.string("ca_file")
                settings.lease = try postgres.duration("lease", in: .seconds(1) ... .seconds(600)) ?? settings.lease
                try postgres.finish()
                config.storage.postgres = settings
            }
            if config.storage.backend == .postgres, config.storage.postgres == nil {
                throw storage.error("postgres", "backend postgres needs storage.postgres (host, port, database, user, credential)")
            }
            try storage.finish()
        }

        if let logging = try root.mapping("logging") {
            config.logging.level = try logging.string("level", oneOf: ["trace", "debug", "info", "notice", "warning", "error", "critical"]) ?? "info"
            let target = try logging.string("target", oneOf: ["auto", "journal", "stderr"]) ?? "auto"
            config.logging.target = DaemonConfig.Logging.Target(rawValue: target) ?? .auto
            try logging.finish()
        }

        if let playbooks = try root.mapping("playbooks") {
            config.playbooks.directories = (try playbooks.strings("directories") ?? []).map { directory in
                guard !directory.hasPrefix("/"), let baseDirectory else { return directory }
                return URL(fileURLWithPath: directory, relativeTo: URL(fileURLWithPath: baseDirectory, isDirectory: true)).standardized.path
            }
            try playbooks.finish()
        }

        var globalCAFile: String?
        if let tls = try root.mapping("tls") {
            globalCAFile = try caFile(tls)
            try tls.finish()
        }

        if let environments = try root.mapping("environments") {
            var parsed: [String: EnvironmentInventory] = [:]
            for name in environments.keys {
                guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) }) else {
                    throw environments.error(name, "environment names use letters, digits, - and _")
                }
                guard let reader = try environments.mapping(name) else {
                    parsed[name] = EnvironmentInventory(name: name)
                    continue
                }
                parsed[name] = try InventoryParser.environment(reader, name: name)
            }
            try environments.finish()
            config.environments = parsed
        }
        // An environment's own tls.ca_file wins over the global one.
        for name in config.environments.keys where config.environments[name]?.caFile == nil {
            config.environments[name]?.caFile = globalCAFile
        }

        if let approval = standingReader {
            config.approval.standing = try standingApprovals(approval, approvers: Set(config.auth.approvers.map(\.name)), environments: Set(config.environments.keys))
            try approval.finish()
        }
        // Routes name environments, so the intake is read after them.
        if let intake = try root.mapping("intake") {
            config.intake = try IntakeConfigParser.intake(intake, environments: Set(config.environments.keys))
            let known = Set(config.approval.standing.map(\.name))
            for route in config.intake.alertmanager?.routes ?? [] {
                for name in route.standingApprovals where !known.contains(name) {
                    throw ConfigError(source: "config", key: "intake.alertmanager.routes.\(route.name).standing_approvals", reason: "no standing approval \"\(name)\" in approval.standing")
                }
            }
        }
        if let notifications = try root.mapping("notifications") {
            config.notifications = try IntakeConfigParser.notifications(notifications)
        }

        try root.finish()
        // A playbooks/ directory next to the configuration file is read unless directories are given.
        if config.playbooks.directories.isEmpty, let baseDirectory {
            let beside = "\(baseDirectory)/playbooks"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: beside, isDirectory: &isDirectory), isDirectory.boolValue {
                config.playbooks.directories = [beside]
            }
        }
        return config
    }

    /// `approval.standing`: each names an environment, references, the approver who owns it, a
    /// reason and an expiry at most 30 days away.
    static func standingApprovals(_ approval: ConfigReader, approvers: Set<String>, environments: Set<String>, now: Date = Date()) throws(ConfigError) -> [StandingApproval] {
        var result: [StandingApproval] = []
        for entry in try approval.mappings("standing") {
            guard let name = try entry.string("name"), !name.isEmpty else { throw entry.error("name", "every standing approval needs a name") }
            guard let environment = try entry.string("environment"), environments.contains(environment) else {
                throw entry.error("environment", "name one of the environments: \(environments.sorted().joined(separator: ", "))")
            }
            guard let references = try entry.strings("references"), !references.isEmpty else { throw entry.error("references", "list the credential references it approves") }
            for reference in references {
                do { _ = try CredentialReference(parsing: reference) } catch { throw entry.error("references", error.reason) }
            }
            guard let owner = try entry.string("owner"), approvers.contains(owner) else {
                throw entry.error("owner", "the owner must be one of auth.approvers (\(approvers.sorted().joined(separator: ", ")))")
            }
            guard let reason = try entry.string("reason"), !reason.isEmpty else { throw entry.error("reason", "say why it may be used unattended") }
            guard let expiresText = try entry.string("expires"), let expires = JSONCoding.parseDate(expiresText) ?? JSONCoding.parseDate(expiresText + "T00:00:00Z") else {
                throw entry.error("expires", "expected a date like 2026-12-20 or 2026-12-20T18:00:00Z")
            }
            guard expires.timeIntervalSince(now) <= StandingApproval.maxLifetime else {
                throw entry.error("expires", "a standing approval lasts at most 30 days")
            }
            try entry.finish()
            result.append(StandingApproval(name: name, environment: environment, references: references, owner: owner, reason: reason, expiresAt: expires))
        }
        return result
    }

    private static func identities(_ auth: ConfigReader, _ key: String) throws(ConfigError) -> [DaemonConfig.Identity] {
        var result: [DaemonConfig.Identity] = []
        for entry in try auth.mappings(key) {
            guard let name = try entry.string("name"), !name.isEmpty else { throw entry.error("name", "every identity needs a name") }
            guard let token = try reference(entry, "token") else {
                throw entry.error("token", "every identity needs a token reference (cred://, file://, env://)")
            }
            guard token.scheme != "op" else {
                throw entry.error("token", "approver tokens are read at start-up from cred://, file:// or env://, not from 1Password")
            }
            try entry.finish()
            result.append(.init(name: name, token: token))
        }
        return result
    }

    static func runnerEndpoint(_ reader: ConfigReader) throws(ConfigError) -> DaemonConfig.Runners.Endpoint {
        var endpoint = DaemonConfig.Runners.Endpoint()
        if let listen = try reader.string("listen") {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (1...65535).contains(port) else {
                throw reader.error("listen", "expected HOST:PORT, e.g. 0.0.0.0:32101")
            }
            endpoint.host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            endpoint.port = port
        }
        guard let advertise = try reader.string("advertise"), advertise.hasPrefix("tls://"), advertise.count > 6 else {
            throw reader.error("advertise", "expected tls://HOST:PORT: the address runners dial (e.g. the daemon's Service)")
        }
        endpoint.advertise = advertise
        for (key, path) in [("certificate", \DaemonConfig.Runners.Endpoint.certificate), ("key", \.key), ("ca_file", \.caFile)] {
            guard let file = try reader.string(key), file.hasPrefix("/") else { throw reader.error(key, "expected an absolute path to a PEM file") }
            endpoint[keyPath: path] = file
        }
        endpoint.serverName = try reader.string("server_name")
        try reader.finish()
        return endpoint
    }

    static func kubernetesRunners(_ reader: ConfigReader) throws(ConfigError) -> DaemonConfig.Runners.Kubernetes {
        var settings = DaemonConfig.Runners.Kubernetes()
        if let url = try reader.string("api_url") {
            guard url.hasPrefix("https://") else { throw reader.error("api_url", "expected https://HOST:PORT of the API server") }
            settings.apiURL = url
        }
        settings.kubeconfig = try reader.string("kubeconfig")
        if settings.kubeconfig != nil, settings.apiURL != nil { throw reader.error("kubeconfig", "either kubeconfig or api_url, not both") }
        settings.tokenFile = try reader.string("token_file") ?? settings.tokenFile
        settings.caFile = try reader.string("ca_file")
        settings.namespace = try reader.string("namespace") ?? ""
        guard let image = try reader.string("image"), !image.isEmpty else { throw reader.error("image", "the runner image is required, e.g. registry.internal/sre-diagnose:0.1.0") }
        settings.image = image
        if let command = try reader.strings("command") {
            guard !command.isEmpty else { throw reader.error("command", "expected the runner's path in the image") }
            settings.command = command
        }
        settings.serviceAccount = try reader.string("service_account")
        settings.cpu = try reader.string("cpu") ?? settings.cpu
        settings.memory = try reader.string("memory") ?? settings.memory
        settings.ttlAfterFinished = try reader.duration("ttl_after_finished", in: .seconds(0)...(.seconds(86400 * 7))) ?? settings.ttlAfterFinished
        try reader.finish()
        return settings
    }

    static func reference(_ reader: ConfigReader, _ key: String) throws(ConfigError) -> CredentialReference? {
        guard let text = try reader.string(key) else { return nil }
        do {
            return try CredentialReference(parsing: text)
        } catch {
            throw reader.error(key, error.reason, at: reader.value(key))
        }
    }
}
