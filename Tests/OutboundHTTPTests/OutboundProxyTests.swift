import Foundation
import NIOSSL
@testable import OutboundHTTP
import Testing
import TestSupport

/// Egress through a proxy, as curl did it for the URLSession this client replaced: CONNECT for
/// https (TLS end to end, verified against the origin), absolute URIs for http, `no_proxy`.
@Suite struct OutboundProxyTests {
    struct Proxy {
        let child: ChildProcess
        let port: Int
        let log: String

        init(_ directory: TemporaryDirectory, credentials: String? = nil) throws {
            log = directory.file("proxy.log")
            child = try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture("connect_proxy.py"), directory.file("proxy-port"), log] + (credentials.map { [$0] } ?? []), directory: directory, name: "proxy")
            guard TestEnvironment.waitUntil({ FileManager.default.fileExists(atPath: directory.file("proxy-port")) }) else {
                child.stop()
                throw TestHTTPError.connect("connect_proxy.py did not start: \(child.stderr)")
            }
            port = Int(try String(contentsOfFile: directory.file("proxy-port"), encoding: .utf8)) ?? 0
        }

        /// What the proxy saw: [method, target, authorization].
        var requests: [[String: String]] {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?.compactMapValues { $0 as? String }
            }
        }
    }

    static func client(proxy: OutboundProxy, trusting ca: String) -> OutboundHTTPClient {
        OutboundHTTPClientTests.client(trusting: ca, proxy: proxy)
    }

    @Test func httpsGoesThroughACONNECTTunnelWithTheOriginsCertificateChecked() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("outbound-proxy")
        defer { directory.remove() }
        let origin = try TLSTestServer(certificate: "valid", directory: directory)
        defer { origin.stop() }
        let proxy = try Proxy(directory, credentials: "egress:s3cret")
        defer { proxy.child.stop() }

        let endpoint = try #require(OutboundProxy.Endpoint("http://egress:s3cret@127.0.0.1:\(proxy.port)"))
        let client = Self.client(proxy: OutboundProxy(https: endpoint), trusting: directory.file("ca.pem"))
        let answer = try await client.send(OutboundRequest(.get, try #require(URL(string: "https://localhost:\(origin.port)/")), timeout: .seconds(5)))
        #expect(answer.status == 200)
        #expect(String(decoding: answer.body, as: UTF8.self).contains("s_server"))
        #expect(proxy.requests.first?["method"] == "CONNECT")
        #expect(proxy.requests.first?["target"] == "localhost:\(origin.port)")
        #expect(proxy.requests.first?["authorization"] == "Basic \(Data("egress:s3cret".utf8).base64EncodedString())")

        // Wrong credentials: the proxy's refusal, in words without the proxy's URL or password.
        let wrong = Self.client(proxy: OutboundProxy(https: OutboundProxy.Endpoint("http://egress:nope@127.0.0.1:\(proxy.port)")), trusting: directory.file("ca.pem"))
        await #expect(throws: OutboundHTTPError.proxy("the proxy refused the tunnel (HTTP 407)")) {
            try await wrong.send(OutboundRequest(.get, try #require(URL(string: "https://localhost:\(origin.port)/")), timeout: .seconds(5)))
        }
        // A proxy that is not there.
        let closed = try TestEnvironment.freePort()
        let absent = Self.client(proxy: OutboundProxy(https: OutboundProxy.Endpoint("127.0.0.1:\(closed)")), trusting: directory.file("ca.pem"))
        await #expect(throws: OutboundHTTPError.proxy("cannot connect to the proxy")) {
            try await absent.send(OutboundRequest(.get, try #require(URL(string: "https://localhost:\(origin.port)/")), timeout: .seconds(5)))
        }
    }

    @Test func plainHTTPSendsTheAbsoluteURIAndNoProxyHostsGoDirect() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("outbound-proxy")
        defer { directory.remove() }
        let proxy = try Proxy(directory)
        defer { proxy.child.stop() }
        let endpoint = try #require(OutboundProxy.Endpoint("http://127.0.0.1:\(proxy.port)"))

        let client = OutboundHTTPClient(proxy: OutboundProxy(http: endpoint))
        let answer = try await client.send(OutboundRequest(.post, try #require(URL(string: "http://hooks.example.internal:8080/sre?x=1")), body: Data("{}".utf8), timeout: .seconds(5)))
        let seen = try #require(try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])
        #expect(seen["request_line"] as? String == "POST http://hooks.example.internal:8080/sre?x=1 HTTP/1.1")
        #expect((seen["headers"] as? [String: String])?["host"] == "hooks.example.internal:8080")

        // no_proxy: the request goes straight to the (closed) port, not to the proxy.
        let closed = try TestEnvironment.freePort()
        let direct = OutboundHTTPClient(proxy: OutboundProxy(http: endpoint, noProxy: ["127.0.0.1"]))
        await #expect(throws: OutboundHTTPError.cannotConnect) {
            try await direct.send(OutboundRequest(.get, try #require(URL(string: "http://127.0.0.1:\(closed)/")), timeout: .seconds(5)))
        }
        #expect(proxy.requests.count == 1)
    }

    @Test func theEnvironmentIsReadAsCurlReadsIt() throws {
        let proxy = OutboundProxy.fromEnvironment([
            "HTTPS_PROXY": "http://user:p%40ss@proxy.corp:3128", "HTTP_PROXY": "http://ignored:1",
            "no_proxy": "localhost, .internal,10.0.0.7",
        ])
        #expect(proxy.https?.host == "proxy.corp")
        #expect(proxy.https?.port == 3128)
        #expect(proxy.https?.authorization == "Basic \(Data("user:p@ss".utf8).base64EncodedString())")
        #expect(proxy.http == nil)  // HTTP_PROXY (upper case) is what a CGI request can set: ignored
        #expect(proxy.endpoint(host: "hooks.slack.com", tls: true)?.host == "proxy.corp")
        #expect(proxy.endpoint(host: "op-connect.internal", tls: true) == nil)
        #expect(proxy.endpoint(host: "a.b.internal", tls: true) == nil)
        #expect(proxy.endpoint(host: "LOCALHOST", tls: true) == nil)
        #expect(proxy.endpoint(host: "10.0.0.7", tls: true) == nil)
        #expect(proxy.endpoint(host: "notinternal", tls: true) != nil)
        #expect(OutboundProxy.fromEnvironment(["all_proxy": "proxy:8080", "no_proxy": "*"]).endpoint(host: "x", tls: false) == nil)
        #expect(OutboundProxy.fromEnvironment(["all_proxy": "proxy:8080"]).endpoint(host: "x", tls: false)?.port == 8080)
        #expect(OutboundProxy.fromEnvironment([:]) == .none)
    }
}
