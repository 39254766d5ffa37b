import DiagnosisModel
import Foundation

/// `net.tcp_connect`: DNS resolution and a TCP handshake to `host:port`.
public struct TCPConnectProbe: Probe {
    public static let name = "net.tcp_connect"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        guard let (host, port) = HostPort.parse(context.target) else {
            throw ProbeError("target \"\(context.target)\" is not host:port")
        }
        let timeout = Duration.milliseconds(Int64((context.double("connect_timeout_s") ?? 3) * 1000))
        let (resolved, result) = await Sockets.probeTCP(host: host, port: port, timeout: timeout)
        let resolvedEvidence: [Evidence] = resolved.map {
            [.text("DNS", "\(host) → \($0.addresses.joined(separator: ", ")) in \($0.duration.milliseconds) ms")]
        } ?? []
        switch result {
        case .success(let duration):
            await context.report(FindingDraft(
                code: .netOK, severity: .ok, target: context.target,
                title: "TCP \(context.target) accepts connections (\(duration.milliseconds) ms)",
                detail: "Resolved and completed a TCP handshake.",
                evidence: resolvedEvidence + [.text("connect", "\(duration.milliseconds) ms")]
            ))
        case .failure(.dns(let reason)):
            await context.report(FindingDraft(
                code: .netDNSFailure, severity: .high, target: context.target,
                title: "\(host) does not resolve",
                detail: "Name resolution failed: \(reason).",
                evidence: [.text("getaddrinfo", reason)],
                remediation: "Check the name for typos, the DNS records (dig \(host)) and /etc/resolv.conf on this host.",
                tags: ["dns"]
            ))
        case .failure(.refused):
            await context.report(FindingDraft(
                code: .netTCPRefused, severity: .high, target: context.target,
                title: "Connection refused by \(context.target)",
                detail: "The host answered but nothing listens on port \(port) (or a firewall rejects it).",
                evidence: resolvedEvidence + [.text("connect", "ECONNREFUSED")],
                remediation: "Check that the service on \(host) is running and listening on \(port) (ss -ltnp), and firewall rules.",
                tags: ["connection_refused"]
            ))
        case .failure(.timedOut):
            await context.report(FindingDraft(
                code: .netTCPTimeout, severity: .high, target: context.target,
                title: "No answer from \(context.target) within \(timeout.milliseconds) ms",
                detail: "The TCP handshake did not complete: the host is down, overloaded, or packets are dropped.",
                evidence: resolvedEvidence + [.text("connect", "timed out after \(timeout.milliseconds) ms")],
                remediation: "Check the host is up, security groups / firewalls allow the port, and the listen backlog is not full.",
                tags: ["timeout"]
            ))
        case .failure(.unreachable(let reason)):
            await context.report(FindingDraft(
                code: .netTCPTimeout, severity: .high, target: context.target,
                title: "\(context.target) is unreachable: \(reason)",
                detail: "The connection could not be attempted: \(reason).",
                evidence: resolvedEvidence + [.text("connect", reason)],
                remediation: "Check routing to \(host) (ip route get) and the network path.",
                tags: ["unreachable"]
            ))
        }
    }
}

/// `host:port`, `[v6]:port`.
public enum HostPort {
    public static func parse(_ text: String) -> (String, Int)? {
        var rest = Substring(text)
        for prefix in ["tcp://", "tls://"] where rest.hasPrefix(prefix) { rest = rest.dropFirst(prefix.count) }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(rest[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }
}
