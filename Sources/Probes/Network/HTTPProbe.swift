import DiagnosisModel
import Foundation

/// `net.http`: an HTTP(S) health check with curl — status, latency, body size.
public struct HTTPProbe: Probe {
    public static let name = "net.http"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let url = context.target
        let timeout = context.double("timeout_s") ?? 10
        let slowMs = context.double("slow_ms") ?? 2000
        let expected = context.request.params["expect_status"]?.arrayValue?.compactMap(\.intValue)
        var arguments = ["-sS", "-o", "/dev/null", "-w", "%{json}", "--max-time", String(timeout), "--connect-timeout", String(min(timeout, 5)), "-A", "sre-diagnose/\(ProductInfo.version)"]
        if let ca = context.string("ca_file") {
            // curl reads both: the internal CA and the system's hashed roots.
            arguments += ["--cacert", ca]
            if FileManager.default.fileExists(atPath: "/etc/ssl/certs") { arguments += ["--capath", "/etc/ssl/certs"] }
        }
        if context.bool("insecure") == true { arguments.append("-k") }
        arguments.append(url)
        let result = try await context.tools.run("curl", arguments, timeout: .seconds(timeout + 5))
        let info = (try? JSONSerialization.jsonObject(with: result.stdout)) as? [String: Any] ?? [:]
        let status = info["response_code"] as? Int ?? 0
        let seconds = info["time_total"] as? Double ?? 0
        let bytes = info["size_download"] as? Int ?? 0
        let curlError = (info["errormsg"] as? String) ?? result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
        let timing = Evidence.table("response", columns: ["status", "time", "bytes", "connect", "TLS", "first byte"], rows: [[
            String(status), String(format: "%.0f ms", seconds * 1000), String(bytes),
            String(format: "%.0f ms", (info["time_connect"] as? Double ?? 0) * 1000),
            String(format: "%.0f ms", (info["time_appconnect"] as? Double ?? 0) * 1000),
            String(format: "%.0f ms", (info["time_starttransfer"] as? Double ?? 0) * 1000),
        ]])

        switch result.exitCode ?? -1 {
        case 0:
            break
        case 6:
            await context.report(FindingDraft(code: .netDNSFailure, severity: .high, target: url, title: "\(url): host does not resolve", detail: curlError, evidence: [.text("curl", curlError)], remediation: "Check the DNS record of the URL's host.", tags: ["dns"]))
            return
        case 7:
            await context.report(FindingDraft(code: .netTCPRefused, severity: .high, target: url, title: "\(url): connection refused", detail: curlError, evidence: [.text("curl", curlError)], remediation: "Check that the service behind \(url) is up and listening.", tags: ["connection_refused"]))
            return
        case 28:
            await context.report(FindingDraft(code: .netHTTPSlow, severity: .high, target: url, title: "\(url) did not answer within \(Int(timeout)) s", detail: curlError, evidence: [.text("curl", curlError)], remediation: "Check the service's latency, saturation and its dependencies.", tags: ["timeout", "slow"]))
            return
        case 35, 51, 58, 59, 60, 77, 80, 82, 83, 90, 91:
            await context.report(FindingDraft(code: .netTLSUntrusted, severity: .high, target: url, title: "\(url): TLS verification failed", detail: curlError, evidence: [.text("curl", curlError)], remediation: "Check the certificate (expiry, chain, name) served for \(url).", tags: ["tls"]))
            return
        default:
            await context.report(FindingDraft(code: .netHTTPError, severity: .high, target: url, title: "\(url): request failed (curl exit \(result.exitCode.map(String.init) ?? "?"))", detail: curlError, evidence: [.text("curl", curlError)], remediation: "Run curl -v \(url) from this host."))
            return
        }

        let healthy = expected.map { $0.contains(status) } ?? (200..<400).contains(status)
        if !healthy {
            await context.report(FindingDraft(
                code: .netHTTPError, severity: status >= 500 ? .high : .medium, target: url,
                title: "\(url) answers HTTP \(status)",
                detail: status >= 500 ? "The service answers with a server error: it is up but failing behind the front door." : "The service answers with a client error.",
                evidence: [timing],
                remediation: status >= 500 ? "Look at the service's own logs and its dependencies (database, upstreams)." : "Check the health-check path and authentication.",
                tags: status == 502 || status == 503 || status == 504 ? ["upstream"] : []
            ))
        } else if seconds * 1000 > slowMs {
            let reported = context.string("reported") == "slow"
            await context.report(FindingDraft(
                code: .netHTTPSlow, severity: reported ? .high : .medium, target: url,
                title: "\(url) is slow (\(Int(seconds * 1000)) ms\(reported ? "; reported as slow by the user" : ""))", evidence: [timing],
                remediation: "Compare connect, TLS and first-byte times above to see where the time goes.", tags: ["slow"]
            ))
        } else {
            await context.report(FindingDraft(code: .netOK, severity: .ok, target: url, title: "\(url) answers HTTP \(status) in \(Int(seconds * 1000)) ms", evidence: [timing]))
        }
    }
}
