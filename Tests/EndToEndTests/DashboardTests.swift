import Foundation
import TestSupport
import Testing

/// The dashboard in headless Chromium (Debian `chromium`): the page starts a diagnosis through
/// its own form, follows the live stream and shows the findings and the report.
@Suite struct DashboardTests {
    @Test func startsADiagnosisAndShowsFindingsAndReport() throws {
        let daemon = try SessionAPITests.start()
        defer { daemon.cleanUp() }
        let page = try daemon.get("/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(!page.text.contains("http://") && !page.text.contains("https://"), "no external assets")

        // The page fills its form from the URL but never submits it by itself (a link from a
        // foreign page must not start anything, `submit=1` included); the person clicks
        // Diagnose, and the page follows the live stream until the report is there. A
        // screenshot is kept as a CI artifact.
        let artifacts = TestEnvironment.packageRoot.appendingPathComponent("artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts.appendingPathComponent("dashboard.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let url = "http://127.0.0.1:\(daemon.port)/?problem=Database%20connection%20failures&environment=local&submit=1"
        let run = try Self.drive(url, [
            ["wait": "document.getElementById('problem').value === 'Database connection failures' && document.getElementById('environment').value === 'local'"],
            ["eval": "new Promise(r => setTimeout(r, 1000)).then(() => fetch('/sessions')).then(r => r.json()).then(d => 'sessions before the click: ' + d.sessions.length)"],
            ["eval": "document.getElementById('start').click(), true"],
            ["wait": "document.querySelector('.finding.sev-high[data-code=\"net.tcp_refused\"]') !== null", "timeout": 20],
            ["wait": "document.getElementById('status') && document.getElementById('status').innerText === 'completed'", "timeout": 20],
            ["wait": "document.getElementById('report') !== null"],
            ["eval": "document.getElementById('report').innerText.includes('Probable causes')"],
            ["screenshot": screenshot],
        ], directory: daemon.directory)
        #expect(run.wait(timeout: 90) == 0, "\(run.stdout)")
        #expect(run.stdout.contains(#""value": true"#), "\(run.stdout)")
        #expect(run.stdout.contains("sessions before the click: 0"), "the deep link did not submit by itself: \(run.stdout)")

        // The session exists in the API, started by the page.
        let sessions = try #require(try daemon.get("/sessions").json["sessions"] as? [[String: Any]])
        #expect(sessions.count == 1)
        #expect(sessions.first?["problem"] as? String == "Database connection failures")
        let size = (try? FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int) ?? 0
        #expect(size > 10_000, "screenshot written (\(size) bytes)")
    }

    /// Drives the page over the DevTools protocol (a stdlib-only driver in Tests/Fixtures).
    static func drive(_ url: String, _ steps: [[String: Any]], directory: TemporaryDirectory) throws -> ChildProcess {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: steps), as: UTF8.self)
        return try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture("cdp_drive.py"), "/usr/lib/chromium/chromium", url, json], directory: directory, name: "cdp")
    }

    @Test func approverClicksApproveWithTheTokenEnteredOnce() throws {
        let daemon = try SessionAPITests.start()
        defer { daemon.cleanUp() }
        let id = try SessionAPITests.diagnose(daemon, "secured")
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "awaiting_approval" }
        let token = SessionAPITests.approverToken
        let run = try Self.drive("http://127.0.0.1:\(daemon.port)/#session=\(id)", [
            // The approval panel shows the reference, its purpose and the expiry.
            ["wait": "document.querySelector('#approval') && document.querySelector('#approval').innerText.includes('env://SRE_TEST_DB_SECRET')"],
            // Typed once into the header field; kept in this tab's sessionStorage.
            ["eval": "(() => { const t = document.getElementById('token'); t.value = '\(token)'; t.dispatchEvent(new Event('change')); return sessionStorage.getItem('sre-token') !== null })()"],
            ["eval": "document.getElementById('approve').click(), true"],
            ["wait": "document.getElementById('status') && document.getElementById('status').innerText === 'completed'", "timeout": 20],
            ["wait": "document.querySelector('#report') !== null"],
        ], directory: daemon.directory)
        #expect(run.wait(timeout: 90) == 0, "\(run.stdout)")
        let audit = try #require(try daemon.get("/sessions/\(id)/audit").json["entries"] as? [[String: Any]])
        #expect(audit.contains { $0["action"] as? String == "approved" && $0["actor"] as? String == "alice" }, "\(audit)")
    }

    /// A payload that breaks out of text and attributes, in every field the page shows: the
    /// problem, context, check name, code, title, remediation and output. The page must show it
    /// as text: no element is created from it and no script runs.
    @Test func hostileTextInEveryFieldStaysText() throws {
        let payload = #""'><img src=x onerror="window.__xss=1">`${1}"#
        let directory = try TestEnvironment.makeTemporaryDirectory("xss")
        let check: [String: Any] = [
            "name": "check \(payload)", "domain": "host", "command": "sh", "args": ["-c", "echo 'output \(payload.replacingOccurrences(of: "'", with: "'\\''"))'; exit 3"],
            "code": "custom.xss\(payload)", "title": "title \(payload)", "remediation": "fix \(payload)", "severity": "high",
        ]
        let environments = ["hostile": ["checks": [check]]]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: environments), as: UTF8.self)
        let daemon = try DaemonProcess(config: "environments: \(json)\n", directory: directory)
        defer { daemon.cleanUp() }
        let accepted = try daemon.post("/diagnose", ["problem": "problem \(payload)", "environment": "hostile", "context": ["service": "svc \(payload)"]])
        #expect(accepted.status == 202, "\(accepted.text)")
        let id = try #require(accepted.json["session_id"] as? String)
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
        let run = try Self.drive("http://127.0.0.1:\(daemon.port)/#session=\(id)", [
            ["wait": "document.querySelector('#report') !== null", "timeout": 20],
            ["eval": "JSON.stringify({imgs: document.querySelectorAll('img').length, xss: window.__xss === undefined ? 0 : 1, shown: (document.body.innerText.match(/<img src=x/g) || []).length})"],
        ], directory: daemon.directory)
        #expect(run.wait(timeout: 90) == 0, "\(run.stdout)")
        #expect(run.stdout.contains(#"{\"imgs\":0,\"xss\":0"#), "\(run.stdout)")
        let shown = run.stdout.components(separatedBy: #"\"shown\":"#).dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        #expect(shown >= 4, "the payload is shown as text in the problem, the finding and the report (\(shown)): \(run.stdout)")
    }
}
