import Foundation

/// A real Prometheus (Debian's package) for one test: history backfilled with
/// `promtool tsdb create-blocks-from openmetrics` before it starts, a 1 s scrape and rule
/// interval, the test's scrape targets and alerting rules, on a free port.
public final class PrometheusServer: @unchecked Sendable {
    public static let binary = "/usr/bin/prometheus"
    public static let promtool = "/usr/bin/promtool"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) && FileManager.default.isExecutableFile(atPath: promtool) }

    public let directory: TemporaryDirectory
    public let port: Int
    private var server: ChildProcess?

    public var url: String { "http://127.0.0.1:\(port)" }

    /// A scrape job: its name and `host:port` targets.
    public struct Job: Sendable {
        public var name: String
        public var targets: [String]
        public init(_ name: String, _ targets: [String]) {
            self.name = name
            self.targets = targets
        }
    }

    /// - Parameters:
    ///   - history: OpenMetrics sample lines (`name{labels} value timestamp_seconds`), grouped by
    ///     series, ascending in time; `# EOF` is added.
    ///   - rules: the body of a rule file (`groups:` …), or nil.
    ///   - alertmanager: `host:port` of an Alertmanager the alerts are sent to.
    public init(history: [String] = [], jobs: [Job] = [], rules: String? = nil, alertmanager: String? = nil) throws {
        directory = try TestEnvironment.makeTemporaryDirectory("prom")
        port = try TestEnvironment.freePort()
        let data = directory.file("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        if !history.isEmpty {
            let file = try directory.write("history.om", history.joined(separator: "\n") + "\n# EOF\n")
            let backfill = try ChildProcess(Self.promtool, ["tsdb", "create-blocks-from", "openmetrics", file, data], directory: directory, name: "promtool")
            guard backfill.wait(timeout: 120) == 0 else { throw TestHTTPError.connect("promtool backfill failed: \(backfill.stderr) \(backfill.stdout)") }
        }
        var config = """
        global:
          scrape_interval: 1s
          scrape_timeout: 800ms
          evaluation_interval: 1s
        scrape_configs:

        """
        for job in jobs {
            config += "  - job_name: \(job.name)\n    static_configs:\n      - targets: [\(job.targets.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
        }
        if let alertmanager {
            config += "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"\(alertmanager)\"]\n"
        }
        if let rules {
            _ = try directory.write("rules.yml", rules)
            config += "rule_files: [\"\(directory.file("rules.yml"))\"]\n"
        }
        _ = try directory.write("prometheus.yml", config)
        try start()
    }

    public func start() throws {
        server = try ChildProcess(Self.binary, [
            "--config.file=\(directory.file("prometheus.yml"))", "--storage.tsdb.path=\(directory.file("data"))",
            "--web.listen-address=127.0.0.1:\(port)", "--storage.tsdb.retention.time=30d", "--log.level=warn",
            // Alerts reach Alertmanager within a second, not the default minute.
            "--rules.alert.resend-delay=1s",
        ], directory: directory, name: "prometheus")
        let ready = TestEnvironment.waitUntil(timeout: 60, interval: 0.1) {
            (try? TestHTTPClient.request(.tcp(port: port), "GET", "/-/ready", timeout: 2).status) == 200
        }
        guard ready else { throw TestHTTPError.connect("prometheus did not become ready: \(server?.stderr ?? "")") }
    }

    public func stop() {
        server?.signal(SIGTERM)
        _ = server?.wait(timeout: 20)
        server?.stop()
        server = nil
    }

    public func cleanUp() {
        stop()
        directory.remove()
    }

    /// GET on the API; the decoded JSON.
    public func api(_ pathAndQuery: String) throws -> [String: Any] {
        let result = try TestHTTPClient.request(.tcp(port: port), "GET", pathAndQuery, timeout: 10)
        return (try JSONSerialization.jsonObject(with: result.body)) as? [String: Any] ?? [:]
    }

    /// Waits until `alertname` is firing (rules are evaluated every second).
    public func waitForAlert(_ alertname: String, state: String = "firing", timeout: Double = 30) -> Bool {
        TestEnvironment.waitUntil(timeout: timeout, interval: 0.25) {
            let alerts = ((try? self.api("/api/v1/alerts"))?["data"] as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
            return alerts.contains { ($0["labels"] as? [String: String])?["alertname"] == alertname && $0["state"] as? String == state }
        }
    }

    /// Waits until the target `instance` reports `health` (up/down).
    public func waitForTarget(_ instance: String, health: String, timeout: Double = 30) -> Bool {
        TestEnvironment.waitUntil(timeout: timeout, interval: 0.25) {
            let targets = ((try? self.api("/api/v1/targets"))?["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]] ?? []
            return targets.contains { ($0["labels"] as? [String: String])?["instance"] == instance && $0["health"] as? String == health }
        }
    }

    /// OpenMetrics lines for one gauge series sampled every `step` seconds from `start` to
    /// `end`, its value given by `value(t)`.
    public static func gauge(_ series: String, from start: Date, to end: Date, step: TimeInterval = 15, value: (Date) -> Double) -> [String] {
        var lines: [String] = []
        let name = series.split(separator: "{").first.map(String.init) ?? series
        lines.append("# TYPE \(name) gauge")
        var time = start
        while time <= end {
            lines.append("\(series) \(value(time)) \(String(format: "%.3f", time.timeIntervalSince1970))")
            time = time.addingTimeInterval(step)
        }
        return lines
    }
}

/// A real Alertmanager (Debian's `prometheus-alertmanager`) for one test: one route to one
/// webhook receiver, grouped and repeated within seconds, clustering off.
public final class AlertmanagerServer: @unchecked Sendable {
    public static let binary = "/usr/bin/prometheus-alertmanager"
    public let directory: TemporaryDirectory
    public let port: Int
    private var server: ChildProcess?
    public var address: String { "127.0.0.1:\(port)" }

    /// - Parameters:
    ///   - webhook: the receiver URL; `tokenFile` holds its bearer token (Alertmanager's
    ///     `authorization.credentials_file`).
    public init(webhook: String, tokenFile: String, groupBy: [String] = ["alertname", "service"]) throws {
        directory = try TestEnvironment.makeTemporaryDirectory("am")
        port = try TestEnvironment.freePort()
        _ = try directory.write("alertmanager.yml", """
            route:
              receiver: sre
              group_by: [\(groupBy.joined(separator: ", "))]
              group_wait: 1s
              group_interval: 2s
              repeat_interval: 1h
            receivers:
              - name: sre
                webhook_configs:
                  - url: "\(webhook)"
                    send_resolved: true
                    http_config:
                      authorization: {type: Bearer, credentials_file: "\(tokenFile)"}
            """)
        server = try ChildProcess(Self.binary, [
            "--config.file=\(directory.file("alertmanager.yml"))", "--storage.path=\(directory.file("data"))",
            "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=", "--log.level=warn",
        ], directory: directory, name: "alertmanager")
        let ready = TestEnvironment.waitUntil(timeout: 30, interval: 0.1) {
            (try? TestHTTPClient.request(.tcp(port: self.port), "GET", "/-/ready", timeout: 2).status) == 200
        }
        guard ready else { throw TestHTTPError.connect("alertmanager did not become ready: \(server?.stderr ?? "")") }
    }

    public var stderr: String { server?.stderr ?? "" }

    public func cleanUp() {
        server?.stop()
        directory.remove()
    }
}

/// A Python fixture server that writes its port to a file (`metrics_exporter.py`,
/// `auth_proxy.py`, …).
public final class FixtureServer: @unchecked Sendable {
    public let process: ChildProcess
    public let port: Int
    public let portFile: String

    public init(_ script: String, _ arguments: [String] = [], directory: TemporaryDirectory) throws {
        let portFile = directory.file("\(script).\(UUID().uuidString.prefix(6)).port")
        self.portFile = portFile
        process = try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture(script), portFile] + arguments, directory: directory, name: script)
        guard TestEnvironment.waitUntil(timeout: 20, { FileManager.default.fileExists(atPath: portFile) }),
              let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) else {
            throw TestHTTPError.connect("\(script) did not start: \(process.stderr)")
        }
        self.port = port
    }

    public func stop() { process.stop() }

    /// `metrics_exporter.py`: sets one series (an empty value removes it).
    public func set(_ series: String, _ value: String) throws {
        _ = try TestHTTPClient.request(.tcp(port: port), "GET", "/set?series=\(series.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")&value=\(value)")
    }

    /// The JSON lines a fixture appended to `path`.
    public static func jsonLines(_ path: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }
}
