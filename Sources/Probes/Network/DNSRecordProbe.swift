import DiagnosisModel
import Foundation

/// `net.dns_record`: does a name resolve to the addresses it should? After a failover or a
/// migration the record (or a resolver's cache) often still points at the old host, and every
/// client fails while the new host is healthy.
public struct DNSRecordProbe: Probe {
    public static let name = "net.dns_record"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let name = context.target
        let expected = Set(context.strings("expect"))
        guard !expected.isEmpty else { throw ProbeError("net.dns_record needs expect: the addresses \(name) should resolve to") }
        let timeout = Duration.milliseconds(Int64((context.double("timeout_s") ?? 5) * 1000))
        switch await Sockets.resolve(name, port: 0, timeout: timeout) {
        case .failure(let failure):
            let reason = if case .dns(let text) = failure { text } else { "\(failure)" }
            await context.report(FindingDraft(
                code: .netDNSFailure, severity: .high, target: name, title: "\(name) does not resolve",
                detail: "Name resolution failed: \(reason).", evidence: [.text("getaddrinfo", reason)],
                remediation: "Check the record (dig \(name)) and the resolvers in /etc/resolv.conf.", tags: ["dns"]
            ))
        case .success(let resolved):
            let answer = Set(resolved.addresses)
            let evidence: [Evidence] = [
                .text("answer", answer.sorted().joined(separator: ", ")), .text("expected", expected.sorted().joined(separator: ", ")),
            ]
            if answer.isDisjoint(with: expected) {
                await context.report(FindingDraft(
                    code: .netDNSMismatch, severity: .high, target: name,
                    title: "\(name) resolves to \(answer.sorted().joined(separator: ", ")), not \(expected.sorted().joined(separator: ", "))",
                    detail: "Clients connect to an address that is not the expected host (a record or cache left over from a failover or migration?).",
                    evidence: evidence,
                    remediation: "Compare dig \(name) with the expected host; fix the record and lower its TTL, flush resolver caches.", tags: ["dns"]
                ))
            } else if !answer.isSubset(of: expected) {
                await context.report(FindingDraft(
                    code: .netDNSMismatch, severity: .medium, target: name,
                    title: "\(name) also resolves to \(answer.subtracting(expected).sorted().joined(separator: ", "))",
                    detail: "Some clients get an unexpected address.", evidence: evidence,
                    remediation: "Remove the stale address from the record (dig \(name)).", tags: ["dns"]
                ))
            } else {
                await context.report(FindingDraft(code: .netOK, severity: .ok, target: name, title: "\(name) resolves to the expected address(es)", evidence: evidence))
            }
        }
    }
}
