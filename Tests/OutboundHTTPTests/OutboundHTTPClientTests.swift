import Foundation
import NIOSSL
import OutboundHTTP
import Testing
import TestSupport

/// The daemon's outbound HTTP client against real servers: Python's http.server (HTTP/1.1,
/// chunked answers), sockets that close or never answer, and `openssl s_server` for TLS.
@Suite struct OutboundHTTPClientTests {
    static func echoServer(_ directory: TemporaryDirectory) throws -> (ChildProcess, String) {
        let server = try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture("http_echo_server.py"), directory.file("port")], directory: directory, name: "echo")
        guard TestEnvironment.waitUntil({ FileManager.default.fileExists(atPath: directory.file("port")) }) else {
            server.stop()
            throw TestHTTPError.connect("http_echo_server.py did not start: \(server.stderr)")
        }
        return (server, "http://127.0.0.1:\(try String(contentsOfFile: directory.file("port"), encoding: .utf8))")
    }

    static func url(_ text: String) throws -> URL { try #require(URL(string: text)) }

    /// The system's trust roots and no proxy, whatever this machine's environment says.
    static let direct = OutboundHTTPClient(proxy: .none)

    /// A client that trusts the test CA in `ca` (and nothing else), without a proxy.
    static func client(trusting ca: String, proxy: OutboundProxy = .none) -> OutboundHTTPClient {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(ca)
        return OutboundHTTPClient(tls: configuration, proxy: proxy)
    }

    static func failure(_ request: OutboundRequest) async -> OutboundHTTPError? {
        await failure(direct, request)
    }

    static func failure(_ client: OutboundHTTPClient, _ request: OutboundRequest) async -> OutboundHTTPError? {
        do {
            _ = try await client.send(request)
            return nil
        } catch {
            return error
        }
    }

    @Test func sendsMethodTargetHeadersAndBodyAndReadsTheAnswer() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("outbound")
        defer { directory.remove() }
        let (server, base) = try Self.echoServer(directory)
        defer { server.stop() }

        let body = Data(#"{"text":"grüße"}"#.utf8)
        let answer = try await Self.direct.send(OutboundRequest(
            .post, try Self.url("\(base)/echo/a%20b?x=1&y=two"),
            headers: [(name: "Content-Type", value: "application/json"), (name: "X-SRE-Diagnose-Event", value: "session.completed")],
            body: body, timeout: .seconds(5)
        ))
        #expect(answer.status == 200)
        let echo = try #require(try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])
        #expect(echo["method"] as? String == "POST")
        #expect(echo["path"] as? String == "/echo/a%20b?x=1&y=two")
        #expect(echo["body"] as? String == #"{"text":"grüße"}"#)
        let headers = try #require(echo["headers"] as? [String: String])
        #expect(headers["content-length"] == String(body.count))
        #expect(headers["content-type"] == "application/json")
        #expect(headers["x-sre-diagnose-event"] == "session.completed")
        #expect(headers["host"] == base.replacingOccurrences(of: "http://", with: ""))
        #expect(headers["user-agent"] == "sre-diagnose")

        let get = try await Self.direct.send(OutboundRequest(.get, try Self.url("\(base)/echo"), headers: [(name: "User-Agent", value: "sre-diagnose/9")], timeout: .seconds(5)))
        let getEcho = try #require(try JSONSerialization.jsonObject(with: get.body) as? [String: Any])
        #expect(getEcho["method"] as? String == "GET")
        #expect((getEcho["headers"] as? [String: String])?["user-agent"] == "sre-diagnose/9")
    }

    @Test func chunkedAnswersAreJoinedAndStatusesPassThrough() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("outbound")
        defer { directory.remove() }
        let (server, base) = try Self.echoServer(directory)
        defer { server.stop() }

        let chunked = try await Self.direct.send(OutboundRequest(.get, try Self.url("\(base)/chunked"), timeout: .seconds(5)))
        #expect(String(decoding: chunked.body, as: UTF8.self) == "alpha-beta-gamma")
        let failing = try await Self.direct.send(OutboundRequest(.post, try Self.url("\(base)/status/503"), timeout: .seconds(5)))
        #expect(failing.status == 503)
    }

    @Test func anAnswerOverTheLimitIsAnErrorNotABuffer() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("outbound")
        defer { directory.remove() }
        let (server, base) = try Self.echoServer(directory)
        defer { server.stop() }

        let client = OutboundHTTPClient(maxAnswerBytes: 64 * 1024, proxy: .none)
        let fits = try await client.send(OutboundRequest(.get, try Self.url("\(base)/big/65536"), timeout: .seconds(5)))
        #expect(fits.body.count == 65536)
        #expect(await Self.failure(client, OutboundRequest(.get, try Self.url("\(base)/big/2000000"), timeout: .seconds(5))) == .answerTooLarge(limit: 64 * 1024))
    }

    @Test func connectionFailuresSayWhatHappenedWithoutTheURL() async throws {
        let closed = try TestEnvironment.freePort()
        #expect(await Self.failure(OutboundRequest(.post, try Self.url("http://127.0.0.1:\(closed)/hook/SECRET"), timeout: .seconds(5))) == .cannotConnect)
        #expect(await Self.failure(OutboundRequest(.post, try Self.url("http://no-such-host.invalid/hook"), timeout: .seconds(10))) == .hostNotFound)
        #expect(await Self.failure(OutboundRequest(.post, try Self.url("ftp://127.0.0.1/x"), timeout: .seconds(5))) == .unsupportedURL)

        // Accepts, then closes without a word.
        let closing = try TestEnvironment.listeningSocket()
        defer { close(closing.fd) }
        #expect(await Self.failure(OutboundRequest(.post, try Self.url("http://127.0.0.1:\(closing.port)/"), timeout: .seconds(5))) == .closedBeforeAnswer)

        for error in [OutboundHTTPError.cannotConnect, .hostNotFound, .timedOut(.seconds(10)), .tls("certificate not trusted"), .closedBeforeAnswer] {
            #expect(!error.description.contains("SECRET") && !error.description.contains("127.0.0.1"))
        }
    }

    @Test func aServerThatNeverAnswersTimesOutOnTime() async throws {
        // The kernel completes the handshake (the backlog), nobody ever reads or writes.
        let silent = try TestEnvironment.boundSocket()
        defer { close(silent.fd) }
        let started = ContinuousClock.now
        #expect(await Self.failure(OutboundRequest(.post, try Self.url("http://127.0.0.1:\(silent.port)/"), timeout: .seconds(1))) == .timedOut(.seconds(1)))
        let took = ContinuousClock.now - started
        #expect(took >= .milliseconds(900) && took < .seconds(4), "took \(took)")
    }

    @Test func httpsVerifiesTheChainAndTheName() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("outbound-tls")
        defer { directory.remove() }
        let valid = try TLSTestServer(certificate: "valid", directory: directory)
        defer { valid.stop() }
        let trusting = Self.client(trusting: directory.file("ca.pem"))

        // openssl s_server -www answers GET / with its status page.
        let answer = try await trusting.send(OutboundRequest(.get, try Self.url("https://localhost:\(valid.port)/"), timeout: .seconds(5)))
        #expect(answer.status == 200)
        #expect(String(decoding: answer.body, as: UTF8.self).contains("s_server"))
        // By address: the certificate names 127.0.0.1 too (checked without SNI).
        #expect(try await trusting.send(OutboundRequest(.get, try Self.url("https://127.0.0.1:\(valid.port)/"), timeout: .seconds(5))).status == 200)
        // The system's roots do not know the test CA.
        #expect(await Self.failure(OutboundRequest(.get, try Self.url("https://localhost:\(valid.port)/"), timeout: .seconds(5))) == .tls("certificate not trusted"))

        let other = try TestEnvironment.makeTemporaryDirectory("outbound-tls")
        defer { other.remove() }
        let wrongName = try TLSTestServer(certificate: "wrongname", directory: other)
        defer { wrongName.stop() }
        let trustingOther = Self.client(trusting: other.file("ca.pem"))
        let error = await Self.failure(trustingOther, OutboundRequest(.get, try Self.url("https://localhost:\(wrongName.port)/"), timeout: .seconds(5)))
        #expect(error == .tls("certificate is for another name"))
    }
}
