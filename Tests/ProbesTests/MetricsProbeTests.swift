import DiagnosisModel
import Foundation
import Probes
import TestSupport
import Testing

/// The metrics probes against a real Prometheus (Debian's package): history with a known spike
/// backfilled by promtool, a live test-owned exporter, a scrape target that is down, alerting
/// rules that really fire, and an authenticating proxy stand-in in front of it.
@Suite(.serialized) struct MetricsProbeTests {
    static let step = 36.0 // 3 h / 300 points

    /// Prometheus with: checkout's error ratio 0.2 % that jumps to 8.3 % at `spikeStart`; a flat
    /// p99 latency with one odd sample in the baseline (a red herring); 30 series of one metric;
    /// a live exporter; a `ghost` job on a closed port; two alerting rules.
    static func prometheus(spikeStart: Date, now: Date, exporter: Int) throws -> PrometheusServer {
        let start = now.addingTimeInterval(-3 * 3600)
        let end = now.addingTimeInterval(-2)
        var history = PrometheusServer.gauge("checkout_error_ratio{service=\"checkout\"}", from: start, to: end) { time in
            let jitter = Double(Int(time.timeIntervalSince1970) % 7) * 0.0001
            return (time >= spikeStart ? 0.083 : 0.002) + jitter
        }
        let oddSample = now.addingTimeInterval(-50 * 60)
        history += PrometheusServer.gauge("checkout_latency_p99_seconds{service=\"checkout\"}", from: start, to: end) { time in
            abs(time.timeIntervalSince(oddSample)) < 7 ? 1.5 : 0.12 + Double(Int(time.timeIntervalSince1970) % 5) * 0.002
        }
        history.append("# TYPE many_series gauge")
        for index in 0..<30 {
            history += PrometheusServer.gauge("many_series{n=\"\(index)\"}", from: now.addingTimeInterval(-600), to: end, step: 60) { _ in Double(index) }.dropFirst()
        }
        let rules = """
        groups:
          - name: test
            rules:
              - alert: GhostDown
                expr: up{job="ghost"} == 0
                labels: {severity: critical}
                annotations: {summary: "ghost is down"}
              - alert: CheckoutTooManyConnections
                expr: checkout_db_connections_in_use / checkout_db_connections_max > 0.9
                labels: {severity: critical, service: checkout}
                annotations: {summary: "checkout uses almost all database connections", description: "{{ $value }} of max_connections in use"}
        """
        let closed = try TestEnvironment.freePort()
        return try PrometheusServer(
            history: history,
            jobs: [.init("exporter", ["127.0.0.1:\(exporter)"]), .init("ghost", ["127.0.0.1:\(closed)"])],
            rules: rules
        )
    }

    static func signal(_ kind: String, _ query: String, threshold: Double? = nil) -> JSONValue {
        var object: [String: JSONValue] = ["kind": .string(kind), "query": .string(query), "service": .string("checkout")]
        if let threshold { object["threshold"] = .number(threshold) }
        return .object(object)
    }

    @Test func alertsTargetsAndSignals() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("metrics")
        defer { directory.remove() }
        let exporter = try FixtureServer("metrics_exporter.py", directory: directory)
        defer { exporter.stop() }
        for (series, value) in [("checkout_db_connections_in_use{service=\"checkout\"}", "19"), ("checkout_db_connections_max{service=\"checkout\"}", "20")] {
            _ = try TestHTTPClient.request(.tcp(port: exporter.port), "GET", "/set?series=\(series.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")&value=\(value)")
        }
        let now = Date()
        let spikeStart = now.addingTimeInterval(-20 * 60)
        let prometheus = try Self.prometheus(spikeStart: spikeStart, now: now, exporter: exporter.port)
        defer { prometheus.cleanUp() }
        let url = JSONValue.string(prometheus.url)

        // A spike found, with its change point within a step; a flat series with one odd sample is not.
        let signals = await ProbeHarness.run(MetricsSignalsProbe(), target: "checkout", params: [
            "url": url, "builtin": .bool(false),
            "signals": .array([Self.signal("error_ratio", "checkout_error_ratio{service=\"checkout\"}"), Self.signal("latency_p99", "checkout_latency_p99_seconds{service=\"checkout\"}")]),
        ])
        #expect(signals.codes == ["metrics.error_ratio"], "\(signals.findings.map(\.title)) \(String(describing: signals.error))")
        let spike = try #require(signals.first("metrics.error_ratio"))
        let changePoint = try #require(spike.firstSeen)
        #expect(abs(changePoint.timeIntervalSince(spikeStart)) <= Self.step + 15, "change point \(changePoint) vs spike \(spikeStart)")
        #expect(spike.title.contains("8.") && spike.title.contains("0.2"), "\(spike.title)")
        let series = try #require(spike.series)
        #expect(series.points.count <= 120 && series.points.count > 60)
        #expect(series.changePoint == changePoint && series.threshold == 0.01)

        // The flat series alone: nothing to report but an all-clear that lists it.
        let flat = await ProbeHarness.run(MetricsSignalsProbe(), target: "checkout", params: [
            "url": url, "builtin": .bool(false), "signals": .array([Self.signal("latency_p99", "checkout_latency_p99_seconds")]),
        ])
        #expect(flat.codes == ["metrics.ok"], "\(flat.findings.map(\.title))")

        // The ghost target is down, since about when Prometheus started, refused.
        #expect(prometheus.waitForTarget("127.0.0.1:\(exporter.port)", health: "up"))
        #expect(prometheus.waitForAlert("GhostDown"))
        let targets = await ProbeHarness.run(MetricsTargetsProbe(), target: prometheus.url, params: ["url": url])
        let down = try #require(targets.first("metrics.target_down"), "\(targets.findings.map(\.title))")
        #expect(targets.codes == ["metrics.target_down"])
        #expect(down.tags == ["connection_refused"] && down.detail.contains("connection refused"), "\(down.detail)")
        #expect(down.title.contains("job ghost"))
        #expect(down.firstSeen.map { abs($0.timeIntervalSince(now)) < 120 } == true)

        // Firing alerts: severity from their label, tags from their names, since when.
        #expect(prometheus.waitForAlert("CheckoutTooManyConnections"))
        let alerts = await ProbeHarness.run(MetricsAlertsProbe(), target: prometheus.url, params: ["url": url])
        let connections = try #require(alerts.findings.first { $0.title.contains("CheckoutTooManyConnections") }, "\(alerts.findings.map(\.title))")
        #expect(connections.code == "metrics.alert_firing" && connections.severity == .critical)
        #expect(connections.tags.contains("too_many_clients"), "\(connections.tags)")
        #expect(connections.detail.contains("almost all database connections"))
        #expect(connections.target.contains("checkout"))
        #expect(connections.firstSeen != nil)
        let ghost = try #require(alerts.findings.first { $0.title.contains("GhostDown") })
        #expect(ghost.tags.contains("connection_refused"))

        // A bad query: Prometheus' own message, the query named; the other signals still run.
        let bad = await ProbeHarness.run(MetricsSignalsProbe(), target: "checkout", params: [
            "url": url, "builtin": .bool(false),
            "signals": .array([Self.signal("error_ratio", "sum(rate(checkout_error_ratio[5m]"), Self.signal("error_ratio", "checkout_error_ratio")]),
        ])
        let failed = try #require(bad.first("metrics.query_failed"), "\(bad.findings.map(\.title))")
        #expect(failed.detail.contains("parse error"), "\(failed.detail)")
        #expect(failed.evidence.contains { $0.text == "sum(rate(checkout_error_ratio[5m]" })
        #expect(bad.codes.contains("metrics.error_ratio"))

        // Bounded: 30 series → 20 examined, the rest counted; an answer over max_bytes is cut off.
        let many = await ProbeHarness.run(MetricsSignalsProbe(), target: "checkout", params: [
            "url": url, "builtin": .bool(false), "signals": .array([Self.signal("traffic", "many_series")]),
        ])
        let listed = try #require(many.first("metrics.ok")?.evidence.first?.rows)
        #expect(listed.count == 21 && listed.last?[1].contains("10 more series") == true, "\(listed)")
        let huge = await ProbeHarness.run(MetricsSignalsProbe(), target: "checkout", params: [
            "url": url, "builtin": .bool(false), "max_bytes": .number(2048), "signals": .array([Self.signal("traffic", "many_series")]),
        ])
        #expect(huge.codes == ["metrics.query_failed"] && huge.findings.first?.detail.contains("cut off") == true, "\(huge.findings.map(\.detail))")

        // Prometheus down: one clear finding, no crash, no per-signal noise.
        prometheus.stop()
        let gone = await ProbeHarness.run(MetricsSignalsProbe(), target: "checkout", params: [
            "url": url, "builtin": .bool(true), "signals": .array([Self.signal("error_ratio", "checkout_error_ratio")]),
        ])
        #expect(gone.codes == ["metrics.unreachable"], "\(gone.findings.map(\.title))")
        #expect(gone.error == nil)
        let goneAlerts = await ProbeHarness.run(MetricsAlertsProbe(), target: prometheus.url, params: ["url": url])
        #expect(goneAlerts.codes == ["metrics.unreachable"] && goneAlerts.findings.first?.detail.contains("refused") == true, "\(goneAlerts.findings.map(\.detail))")
    }

    /// The built-in signals find the real node_exporter's series (file systems, memory) and
    /// examine them; a healthy host reports nothing but the all-clear listing them.
    @Test func builtinSignalsReadTheRealNodeExporter() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("metrics-node")
        defer { directory.remove() }
        let port = try TestEnvironment.freePort()
        let exporter = try ChildProcess("/usr/bin/prometheus-node-exporter", [
            "--web.listen-address=127.0.0.1:\(port)", "--collector.disable-defaults", "--collector.filesystem", "--collector.meminfo", "--collector.pressure",
        ], directory: directory, name: "node_exporter")
        defer { exporter.stop() }
        let prometheus = try PrometheusServer(jobs: [.init("node", ["127.0.0.1:\(port)"])])
        defer { prometheus.cleanUp() }
        #expect(prometheus.waitForTarget("127.0.0.1:\(port)", health: "up"), "\(exporter.stderr)")
        // Enough 1 s scrapes for two 5 s steps in the recent window.
        let run = { await ProbeHarness.run(MetricsSignalsProbe(), target: "node", params: [
            "url": .string(prometheus.url), "builtin": .bool(true), "range_s": .number(300), "recent_s": .number(60), "baseline_s": .number(120),
        ]) }
        var result = await run()
        for _ in 0..<20 where !(result.first("metrics.ok")?.evidence.first?.rows ?? []).contains(where: { $0.last == "memory used" }) {
            try await Task.sleep(for: .seconds(1))
            result = await run()
        }
        let rows = try #require(result.first("metrics.ok")?.evidence.first?.rows, "\(result.findings.map(\.title))")
        #expect(rows.contains { $0.last == "memory used" && $0[1].hasSuffix("%") }, "\(rows)")
        #expect(rows.contains { $0.last == "file system used" }, "\(rows)")
        #expect(result.codes == ["metrics.ok"], "\(result.findings.map(\.title))")
    }

    /// Bearer-token auth through the proxy stand-in: the right token gets through, a wrong one
    /// is reported as refused; the token is in no finding and in no command line.
    @Test func bearerToken() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("metrics-auth")
        defer { directory.remove() }
        let prometheus = try PrometheusServer(jobs: [], rules: nil)
        defer { prometheus.cleanUp() }
        let token = "prom-token-\(UUID().uuidString)"
        let expected = try directory.write("expected", "Bearer \(token)", mode: 0o600)
        let proxy = try FixtureServer("auth_proxy.py", [prometheus.url, expected], directory: directory)
        defer { proxy.stop() }
        let url = JSONValue.string("http://127.0.0.1:\(proxy.port)")

        let allowed = await ProbeHarness.run(MetricsAlertsProbe(), target: "prometheus", params: ["url": url], credential: ["token": token])
        #expect(allowed.codes == ["metrics.ok"], "\(allowed.findings.map(\.detail))")
        let refused = await ProbeHarness.run(MetricsAlertsProbe(), target: "prometheus", params: ["url": url], credential: ["token": "wrong"])
        #expect(refused.codes == ["metrics.unreachable"] && refused.findings.first?.detail.contains("401") == true, "\(refused.findings.map(\.detail))")
        #expect(refused.findings.first?.remediation.contains("credential") == true)
        let none = await ProbeHarness.run(MetricsTargetsProbe(), target: "prometheus", params: ["url": url])
        #expect(none.codes == ["metrics.unreachable"])
        let seen = try String(contentsOfFile: proxy.portFile + ".seen", encoding: .utf8).split(separator: "\n")
        #expect(seen == ["ok", "refused", "refused"])
        for finding in allowed.findings + refused.findings {
            #expect(!"\(finding)".contains(token))
        }
    }
}
