import Foundation
import DiagnosisModel

/// Parses one `environments.<name>` mapping into an ``EnvironmentInventory``.
enum InventoryParser {
    static func environment(_ reader: ConfigReader, name: String) throws(ConfigError) -> EnvironmentInventory {
        var inventory = EnvironmentInventory(name: name)

        for entry in try reader.mappings("database") {
            guard let dbName = try entry.string("name") else { throw entry.error("name", "every database needs a name") }
            guard let host = try entry.string("host") else { throw entry.error("host", "every database needs a host") }
            guard let database = try entry.string("database") else { throw entry.error("database", "every database needs a database name") }
            let engine = try entry.string("engine", oneOf: DatabaseEngine.allCases.map(\.rawValue)).flatMap(DatabaseEngine.init(rawValue:)) ?? .postgres
            let tls = try entry.string("tls", oneOf: TLSMode.allCases.map(\.rawValue)).flatMap(TLSMode.init(rawValue:)) ?? .prefer
            inventory.databases.append(DatabaseTarget(
                name: dbName, engine: engine, host: host,
                port: try entry.int("port", in: 1...65535) ?? 5432, database: database,
                user: try entry.string("user"),
                credential: try ConfigLoader.reference(entry, "credential")?.description, tls: tls
            ))
            try entry.finish()
        }

        if let cloud = try reader.mapping("cloud") {
            if let aws = try cloud.mapping("aws") {
                guard let region = try aws.string("region") else { throw aws.error("region", "aws needs a region") }
                inventory.aws = AWSInventory(
                    region: region,
                    credential: try ConfigLoader.reference(aws, "credential")?.description,
                    endpointURL: try aws.string("endpoint_url"),
                    logGroups: try aws.strings("log_groups") ?? []
                )
                try aws.finish()
            }
            try cloud.finish()
        }

        if let kubernetes = try reader.mapping("kubernetes") {
            inventory.kubernetes = KubernetesInventory(
                kubeconfigCredential: try ConfigLoader.reference(kubernetes, "kubeconfig_credential")?.description,
                kubeconfig: try kubernetes.string("kubeconfig"),
                context: try kubernetes.string("context"),
                namespaces: try kubernetes.strings("namespaces") ?? []
            )
            try kubernetes.finish()
        }

        if let logs = try reader.mapping("logs") {
            var inventoryLogs = LogsInventory(journald: false)
            if let journald = try logs.mapping("journald") {
                inventoryLogs.journald = true
                inventoryLogs.journaldUnits = try journald.strings("units") ?? []
                inventoryLogs.journalDirectory = try journald.string("directory")
                inventoryLogs.journalFiles = try journald.strings("files") ?? []
                if let lookback = try journald.duration("lookback", in: .seconds(1)...(.seconds(7 * 86400))) {
                    inventoryLogs.lookbackSeconds = Int(lookback.components.seconds)
                }
                try journald.finish()
            }
            inventoryLogs.files = try logs.strings("files") ?? []
            if let lookback = try logs.duration("lookback", in: .seconds(1)...(.seconds(7 * 86400))) {
                inventoryLogs.lookbackSeconds = Int(lookback.components.seconds)
            }
            try logs.finish()
            inventory.logs = inventoryLogs
        }

        if let network = try reader.mapping("network") {
            let endpoints = try network.strings("endpoints") ?? []
            for endpoint in endpoints {
                let schemes = ["tcp://", "tls://", "http://", "https://", "dns://"]
                guard schemes.contains(where: endpoint.hasPrefix) else {
                    throw network.error("endpoints", "\"\(endpoint)\" should start with one of \(schemes.joined(separator: ", "))")
                }
            }
            inventory.network = NetworkInventory(endpoints: endpoints)
            try network.finish()
        }

        if let host = try reader.mapping("host") {
            var inventoryHost = HostInventory()
            inventoryHost.mounts = try host.strings("mounts") ?? []
            inventoryHost.diskWarnPercent = try host.double("disk_warn_percent", in: 1...100) ?? inventoryHost.diskWarnPercent
            inventoryHost.diskCriticalPercent = try host.double("disk_critical_percent", in: 1...100) ?? inventoryHost.diskCriticalPercent
            try host.finish()
            inventory.host = inventoryHost
        }

        if let metrics = try reader.mapping("metrics") {
            if let prometheus = try metrics.mapping("prometheus") {
                inventory.metrics = MetricsInventory(prometheus: try Self.prometheus(prometheus))
            }
            try metrics.finish()
        }

        if let tls = try reader.mapping("tls") {
            inventory.caFile = try ConfigLoader.caFile(tls)
            try tls.finish()
        }

        for entry in try reader.mappings("checks") {
            guard let name = try entry.string("name"), !name.isEmpty else { throw entry.error("name", "every check needs a name") }
            guard let command = try entry.string("command") else { throw entry.error("command", "every check needs a command") }
            let domain = try entry.string("domain", oneOf: Domain.allCases.map(\.rawValue)).flatMap(Domain.init(rawValue:)) ?? .host
            var env: [String: String] = [:]
            if let mapping = try entry.mapping("env") {
                for field in mapping.keys {
                    guard let variable = try mapping.string(field), variable.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil else {
                        throw mapping.error(field, "expected an environment variable name")
                    }
                    env[field.lowercased()] = variable
                }
                try mapping.finish()
            }
            var options: [String: JSONValue] = [:]
            for key in ["code", "severity", "title", "remediation", "fail_regex", "json_path", "expect", "ok_code"] {
                if let value = try entry.string(key) { options[key] = .string(value) }
            }
            if let severity = options["severity"]?.stringValue, Severity(rawValue: severity) == nil {
                throw entry.error("severity", "expected one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let codes = try entry.strings("ok_exit_codes") {
                var numbers: [JSONValue] = []
                for code in codes {
                    guard let number = Int(code) else { throw entry.error("ok_exit_codes", "expected integers") }
                    numbers.append(.number(Double(number)))
                }
                options["ok_exit_codes"] = .array(numbers)
            }
            let credential = try ConfigLoader.reference(entry, "credential")?.description
            if !env.isEmpty, credential == nil { throw entry.error("env", "env maps credential fields, so the check needs a credential") }
            let timeout = try entry.duration("timeout", in: .milliseconds(100)...(.seconds(3600)))
            inventory.checks.append(CommandCheck(
                name: name, domain: domain, command: command, args: try entry.strings("args") ?? [],
                credential: credential, env: env,
                timeoutSeconds: timeout.map(\.inSeconds),
                options: options
            ))
            try entry.finish()
        }

        try reader.finish()
        return inventory
    }

    /// `metrics.prometheus`: the API URL, its credential and CA, the window, and per service the
    /// PromQL of its signals (a query string, or `{query, threshold, unit}`).
    static func prometheus(_ reader: ConfigReader) throws(ConfigError) -> PrometheusSource {
        guard let url = try reader.string("url") else { throw reader.error("url", "prometheus needs the API's url") }
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil, parsed.user == nil, parsed.password == nil else {
            throw reader.error("url", "expected an http(s) URL without user or password (put those in a credential)")
        }
        var source = PrometheusSource(url: url.hasSuffix("/") ? String(url.dropLast()) : url)
        source.credential = try ConfigLoader.reference(reader, "credential")?.description
        source.caFile = try ConfigLoader.caFile(reader)
        source.builtinSignals = try reader.bool("builtin_signals") ?? true
        let day = Duration.seconds(86400)
        if let range = try reader.duration("range", in: .seconds(300)...(day * 7)) { source.window.rangeSeconds = Int(range.components.seconds) }
        if let recent = try reader.duration("recent", in: .seconds(60)...day) { source.window.recentSeconds = Int(recent.components.seconds) }
        if let baseline = try reader.duration("baseline", in: .seconds(60)...day) { source.window.baselineSeconds = Int(baseline.components.seconds) }
        source.window.compareDayBefore = try reader.bool("day_before") ?? false
        guard source.window.recentSeconds + source.window.baselineSeconds <= source.window.rangeSeconds else {
            throw reader.error("range", "must cover recent + baseline (\(source.window.recentSeconds + source.window.baselineSeconds) s)")
        }
        if let services = try reader.mapping("services") {
            for name in services.keys {
                guard let entry = try services.mapping(name) else { continue }
                var signals: [SignalQuery] = []
                for kind in SignalKind.allCases {
                    if let query = try? entry.string(kind.rawValue) {
                        signals.append(SignalQuery(kind: kind, query: query))
                    } else if let detail = try entry.mapping(kind.rawValue) {
                        guard let query = try detail.string("query") else { throw detail.error("query", "a signal needs its PromQL query") }
                        signals.append(SignalQuery(
                            kind: kind, query: query, threshold: try detail.double("threshold", in: 0...Double.greatestFiniteMagnitude),
                            unit: try detail.string("unit", oneOf: ["ratio", "seconds", "bytes", "per_second", ""])
                        ))
                        try detail.finish()
                    }
                }
                try entry.finish()
                source.services.append(ServiceSignals(service: name, signals: signals))
            }
            try services.finish()
        }
        try reader.finish()
        return source
    }
}
