import DiagnosisModel
import Foundation

/// `net.dns`: resolve a name (with timing).
public struct DNSProbe: Probe {
    public static let name = "net.dns"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let name = context.target.hasPrefix("dns://") ? String(context.target.dropFirst(6)) : context.target
        let slowMs = context.double("slow_ms") ?? 1000
        switch await Sockets.resolve(name, port: 0, timeout: .milliseconds(Int64((context.double("timeout_s") ?? 5) * 1000))) {
        case .failure(let failure):
            let reason = if case .dns(let text) = failure { text } else { "\(failure)" }
            await context.report(FindingDraft(
                code: .netDNSFailure, severity: .high, target: name,
                title: "\(name) does not resolve", detail: "Name resolution failed: \(reason).",
                evidence: [.text("getaddrinfo", reason)],
                remediation: "Check the record (dig \(name)), the zone and the resolvers in /etc/resolv.conf.", tags: ["dns"]
            ))
        case .success(let resolved):
            let evidence = Evidence.text("answer", "\(resolved.addresses.joined(separator: ", ")) in \(resolved.duration.milliseconds) ms")
            if resolved.duration.milliseconds > slowMs {
                await context.report(FindingDraft(
                    code: .netDNSFailure, severity: .medium, target: name,
                    title: "\(name) resolves slowly (\(Int(resolved.duration.milliseconds)) ms)",
                    detail: "Slow resolution adds to every new connection.", evidence: [evidence],
                    remediation: "Check the resolvers' health and latency; consider a local caching resolver.", tags: ["dns", "slow"]
                ))
            } else {
                await context.report(FindingDraft(code: .netOK, severity: .ok, target: name, title: "\(name) resolves (\(resolved.addresses.count) address(es), \(resolved.duration.milliseconds) ms)", evidence: [evidence]))
            }
        }
    }
}
