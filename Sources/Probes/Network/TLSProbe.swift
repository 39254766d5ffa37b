import DiagnosisModel
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// `net.tls`: a TLS handshake to `host:port` — certificate expiry (expired, expiring soon),
/// whether the chain is trusted and the name matches.
public struct TLSProbe: Probe {
    public static let name = "net.tls"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        guard let (host, port) = HostPort.parse(context.target) else { throw ProbeError("target \"\(context.target)\" is not host:port") }
        let serverName = context.string("server_name") ?? host
        let timeout = Duration.milliseconds(Int64((context.double("connect_timeout_s") ?? 5) * 1000))
        let warnDays = context.double("expiry_warn_days") ?? 14
        let caFile = context.string("ca_file")

        // First handshake: accept anything, to see the certificate whatever is wrong with it.
        let inspection: Handshake.Outcome
        do {
            inspection = try await Handshake.perform(host: host, port: port, serverName: serverName, verify: false, caFile: nil, timeout: timeout)
        } catch let failure as Handshake.ConnectFailure {
            await context.report(Self.connectFinding(failure, target: context.target, host: host, port: port))
            return
        }
        guard case .success(let chain) = inspection, let leaf = chain.first else {
            if case .failure(let reason) = inspection {
                await context.report(FindingDraft(
                    code: .netTLSUntrusted, severity: .high, target: context.target,
                    title: "TLS handshake with \(context.target) failed",
                    detail: "The server does not complete a TLS handshake: \(reason).",
                    evidence: [.text("handshake", reason)],
                    remediation: "Check that \(port) serves TLS, its protocol versions and ciphers.", tags: ["tls"]
                ))
            }
            return
        }
        let expiry = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        let start = Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore))
        let names = Self.names(leaf)
        let daysLeft = expiry.timeIntervalSinceNow / 86400
        let certificate = Evidence.table("certificate", columns: ["subject", "valid from", "valid until", "days left", "chain length"], rows: [[
            names, JSONCoding.format(start), JSONCoding.format(expiry), String(format: "%.1f", daysLeft), String(chain.count),
        ]])

        var problem = false
        if daysLeft < 0 {
            problem = true
            await context.report(FindingDraft(
                code: .netTLSExpired, severity: .critical, target: context.target,
                title: "TLS certificate of \(context.target) expired \(Int(-daysLeft)) day(s) ago",
                detail: "The certificate (\(names)) was valid until \(JSONCoding.format(expiry)); clients that verify certificates refuse the connection.",
                evidence: [certificate],
                remediation: "Renew and deploy the certificate for \(serverName) (check the ACME/cert-manager job that should have), then reload the server.",
                tags: ["tls", "expired"]
            ))
        } else if daysLeft < warnDays {
            problem = true
            await context.report(FindingDraft(
                code: .netTLSExpiring, severity: daysLeft < 3 ? .high : .medium, target: context.target,
                title: "TLS certificate of \(context.target) expires in \(String(format: "%.1f", daysLeft)) days",
                detail: "Valid until \(JSONCoding.format(expiry)).", evidence: [certificate],
                remediation: "Renew the certificate for \(serverName) before \(JSONCoding.format(expiry)).", tags: ["tls"]
            ))
        }

        // Second handshake: verify chain and name the way clients do.
        if daysLeft >= 0 {
            let verified = try? await Handshake.perform(host: host, port: port, serverName: serverName, verify: true, caFile: caFile, timeout: timeout)
            if case .failure(let reason)? = verified {
                problem = true
                let mismatch = reason.lowercased().contains("hostname") || reason.lowercased().contains("name")
                await context.report(FindingDraft(
                    code: .netTLSUntrusted, severity: .high, target: context.target,
                    title: mismatch ? "TLS certificate of \(context.target) does not match \(serverName)" : "TLS certificate of \(context.target) is not trusted",
                    detail: "Verification failed: \(reason). Certificate: \(names).",
                    evidence: [certificate, .text("verification", reason)],
                    remediation: mismatch
                        ? "Issue a certificate whose SAN includes \(serverName), or use the name the certificate has."
                        : "Serve the full chain (leaf + intermediates) signed by a CA the clients trust; a self-signed certificate needs the CA on every client.",
                    tags: ["tls"]
                ))
            }
        }
        if !problem {
            await context.report(FindingDraft(
                code: .netOK, severity: .ok, target: context.target,
                title: "TLS on \(context.target) is valid for \(Int(daysLeft)) more days and trusted",
                evidence: [certificate]
            ))
        }
    }

    static func names(_ certificate: NIOSSLCertificate) -> String {
        // "<NIOSSLCertificate;serial_number=…;common_name=…;alternative_names=…>"
        let description = certificate.description.trimmingCharacters(in: CharacterSet(charactersIn: "<>"))
        let parts = description.split(separator: ";").filter { $0.hasPrefix("common_name=") || $0.hasPrefix("alternative_names=") }
        return parts.isEmpty ? "unknown subject" : parts.joined(separator: "; ")
    }

    static func connectFinding(_ failure: Handshake.ConnectFailure, target: String, host: String, port: Int) -> FindingDraft {
        switch failure.kind {
        case .dns:
            return FindingDraft(code: .netDNSFailure, severity: .high, target: target, title: "\(host) does not resolve", detail: failure.reason,
                                evidence: [.text("resolve", failure.reason)], remediation: "Check the DNS record for \(host).", tags: ["dns"])
        case .refused:
            return FindingDraft(code: .netTCPRefused, severity: .high, target: target, title: "Connection refused by \(target)", detail: failure.reason,
                                evidence: [.text("connect", failure.reason)], remediation: "Check that the service listens on \(port).", tags: ["connection_refused"])
        case .timeout:
            return FindingDraft(code: .netTCPTimeout, severity: .high, target: target, title: "No answer from \(target)", detail: failure.reason,
                                evidence: [.text("connect", failure.reason)], remediation: "Check the host is up and firewalls allow \(port).", tags: ["timeout"])
        }
    }
}

/// One TLS handshake with NIOSSL.
enum Handshake {
    enum Outcome: Sendable {
        /// The peer's chain, leaf first.
        case success([NIOSSLCertificate])
        case failure(String)
    }

    struct ConnectFailure: Error {
        enum Kind { case dns, refused, timeout }
        let kind: Kind
        let reason: String
    }

    /// Completes when the handshake is done or fails.
    final class Watcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Void>
        init(promise: EventLoopPromise<Void>) { self.promise = promise }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event as? TLSUserEvent ?? .shutdownCompleted { promise.succeed(()) }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.eof)
        }
    }

    final class ChainBox: @unchecked Sendable {
        let lock = NSLock()
        var chain: [NIOSSLCertificate] = []
        func set(_ chain: [NIOSSLCertificate]) { lock.lock(); self.chain = chain; lock.unlock() }
        func get() -> [NIOSSLCertificate] { lock.lock(); defer { lock.unlock() }; return chain }
    }

    static func perform(host: String, port: Int, serverName: String, verify: Bool, caFile: String?, timeout: Duration) async throws -> Outcome {
        // Resolve and connect with the shared helpers, so failures read like the TCP probe's.
        let resolved: Sockets.Resolved
        switch await Sockets.resolve(host, port: port, timeout: timeout) {
        case .failure(let failure):
            throw ConnectFailure(kind: .dns, reason: "\(failure)")
        case .success(let value):
            resolved = value
        }
        guard let address = resolved.raw.first else { throw ConnectFailure(kind: .dns, reason: "no addresses") }
        let fd: Int32
        switch await Sockets.connect(address, timeout: timeout) {
        case .success(let connected): fd = connected.fd
        case .failure(.refused): throw ConnectFailure(kind: .refused, reason: "ECONNREFUSED")
        case .failure(.timedOut): throw ConnectFailure(kind: .timeout, reason: "timed out after \(timeout)")
        case .failure(.unreachable(let reason)): throw ConnectFailure(kind: .timeout, reason: reason)
        case .failure(.dns(let reason)): throw ConnectFailure(kind: .dns, reason: reason)
        }

        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = verify ? .fullVerification : .none
        // An internal CA is trusted besides the system's roots, never instead of them.
        if let caFile { configuration.additionalTrustRoots = [.file(caFile)] }
        let sslContext = try NIOSSLContext(configuration: configuration)
        let box = ChainBox()
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Void.self)
        let sniName: String? = serverName.first?.isNumber == true ? nil : serverName
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler: NIOSSLClientHandler
                        if verify {
                            handler = try NIOSSLClientHandler(context: sslContext, serverHostname: sniName)
                        } else {
                            handler = try NIOSSLClientHandler(context: sslContext, serverHostname: sniName) { certificates, verification in
                                box.set(certificates)
                                verification.succeed(.certificateVerified)
                            }
                        }
                        try channel.pipeline.syncOperations.addHandler(handler)
                        try channel.pipeline.syncOperations.addHandler(Watcher(promise: promise))
                    }
                }
                .withConnectedSocket(fd).get()
        } catch {
            close(fd)
            throw error
        }
        let timer = group.next().scheduleTask(in: .milliseconds(Int64(timeout.milliseconds))) {
            promise.fail(ChannelError.connectTimeout(.milliseconds(Int64(timeout.milliseconds))))
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        do {
            try await promise.futureResult.get()
        } catch {
            return .failure(describe(error))
        }
        if verify { return .success([]) }
        let chain = box.get()
        return chain.isEmpty ? .failure("the server sent no certificate") : .success(chain)
    }

    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") { return "certificate verify failed (untrusted chain, self-signed or unknown CA): \(text)" }
        if text.lowercased().contains("hostname") { return "hostname mismatch: \(text)" }
        return text
    }
}
