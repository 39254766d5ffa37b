@testable import Daemon
import DiagnosisModel
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import HTTPTypes
import SessionStore
import TestSupport
import Testing

/// The rules behind the security fixes, without I/O: who is the same person, which Host is
/// served, when a request is cut off; and the store's file modes and space after retention.
@Suite struct SecurityRulesTests {
    @Test func samePersonWhateverTheTransport() {
        let bobTCP = Identity(name: "user:bob", role: .requester, uid: 1000, transport: .tcp)
        let bobUnix = Identity(name: "user:bob", role: .approver, uid: 1000, transport: .unix)
        let aliceTokenAsBob = Identity(name: "alice", role: .approver, uid: 1000, transport: .tcp, byToken: true)
        let aliceRemote = Identity(name: "alice", role: .approver, uid: nil, transport: .tcp, byToken: true)
        let root = Identity(name: "user:root", role: .approver, uid: 0, transport: .unix)
        let anonymous = Identity(name: Identity.anonymousName, role: .requester, uid: nil, transport: .tcp)
        #expect(bobUnix.mayBeSamePerson(as: bobTCP), "one account, two transports")
        #expect(aliceTokenAsBob.mayBeSamePerson(as: bobTCP), "a token used from the requester's account")
        #expect(!aliceRemote.mayBeSamePerson(as: bobTCP))
        #expect(!root.mayBeSamePerson(as: bobTCP))
        #expect(aliceRemote.mayBeSamePerson(as: aliceTokenAsBob), "one named person")
        // Nobody knows who an anonymous requester is: only a token holder is someone else.
        #expect(root.mayBeSamePerson(as: anonymous))
        #expect(!aliceRemote.mayBeSamePerson(as: anonymous))
    }

    @Test func hostPolicy() {
        let policy = HostPolicy(allowedHosts: ["diag.internal"])
        for allowed in ["localhost", "localhost:32100", "127.0.0.1:32100", "[::1]:32100", "10.1.2.3", "DIAG.internal:443"] {
            #expect(policy.allows(authority: allowed), "\(allowed)")
        }
        for refused in ["attacker.example", "attacker.example:32100", "127.0.0.1.nip.io", "localhost.attacker.example", ""] {
            #expect(!policy.allows(authority: refused), "\(refused)")
        }
        #expect(HostPolicy.sameOrigin("http://127.0.0.1:32100", authority: "127.0.0.1:32100"))
        #expect(!HostPolicy.sameOrigin("http://127.0.0.1:8080", authority: "127.0.0.1:32100"))
        #expect(!HostPolicy.sameOrigin("null", authority: "127.0.0.1:32100"))
        #expect(!HostPolicy.sameOrigin("file://127.0.0.1:32100", authority: "127.0.0.1:32100"))
    }

    @Test func requestDeadlines() {
        var deadlines = RequestDeadlines(header: .seconds(10), body: .seconds(30))
        #expect(deadlines.opened() == .arm(.seconds(10)))
        let head = HTTPRequest(method: .post, scheme: nil, authority: "localhost", path: "/diagnose")
        #expect(deadlines.received(.head(head)) == .arm(.seconds(30)))
        #expect(deadlines.received(.body(.init(string: "{"))) == .none, "a trickle does not extend the deadline")
        #expect(deadlines.received(.end(nil)) == .disarm)
        #expect(deadlines.opened() == .none, "between requests the idle timeout applies")
        #expect(deadlines.received(.head(head)) == .arm(.seconds(30)))
    }

    /// The handler on a connection, in virtual time: the header deadline from the open, the body
    /// deadline from each head, nothing between requests — also when one timer serves many
    /// requests and re-arms itself for the latest deadline.
    @Test func requestDeadlineHandlerClosesOnlyWhenARequestIsLate() throws {
        func connection() throws -> (EmbeddedChannel, EmbeddedEventLoop) {
            let loop = EmbeddedEventLoop()
            let channel = EmbeddedChannel(handler: RequestDeadlineHandler(header: .seconds(10), body: .seconds(30)), loop: loop)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            return (channel, loop)
        }
        let head = HTTPRequestPart.head(HTTPRequest(method: .get, scheme: nil, authority: "localhost", path: "/status/x"))

        // No head within the header deadline: closed at 10 s, not before.
        let (silent, silentLoop) = try connection()
        silentLoop.advanceTime(by: .milliseconds(9_999))
        #expect(silent.isActive)
        silentLoop.advanceTime(by: .milliseconds(2))
        #expect(!silent.isActive)

        // Keep-alive: requests that complete in time never close it, over minutes.
        let (busy, busyLoop) = try connection()
        for _ in 0..<100 {
            try busy.writeInbound(head)
            busyLoop.advanceTime(by: .seconds(1))
            try busy.writeInbound(HTTPRequestPart.end(nil))
            busyLoop.advanceTime(by: .seconds(1))
        }
        #expect(busy.isActive)
        // A head whose body never ends: closed 30 s after that head — the timer armed long ago
        // re-arms for it rather than firing early or never.
        busyLoop.advanceTime(by: .milliseconds(500))
        try busy.writeInbound(head)
        busyLoop.advanceTime(by: .milliseconds(29_999))
        #expect(busy.isActive)
        busyLoop.advanceTime(by: .milliseconds(2))
        #expect(!busy.isActive)
        while try busy.readInbound(as: HTTPRequestPart.self) != nil {}
        while try silent.readInbound(as: HTTPRequestPart.self) != nil {}
    }

    @Test func storeFilesArePrivateWhateverTheUmaskAndRetentionReturnsSpace() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("store")
        defer { directory.remove() }
        let previous = umask(0)
        let store = try SQLiteSessionStore(directory: directory.file("state"))
        umask(previous)
        let old = Date().addingTimeInterval(-10 * 86400)
        let detail = String(repeating: "x", count: 4000)
        for index in 0..<400 {
            let id = String(format: "00000000-0000-0000-0000-%012d", index)
            var record = SessionRecord(id: id, problem: "p", environment: "e", context: [:], requester: "r", createdAt: old, updatedAt: old, lastSequence: 1)
            try await store.create(record, firstEvent: SessionEvent(sessionID: id, sequence: 1, at: old, body: .created(.init(problem: detail, environment: "e", context: [:], requester: "r"))))
            record.status = .completed
            record.lastSequence = 2
            try await store.append(SessionEvent(sessionID: id, sequence: 2, at: old, body: .notice(.init(message: detail))), record: record)
        }
        for suffix in ["", "-wal", "-shm"] {
            let mode = try FileManager.default.attributesOfItem(atPath: store.path + suffix)[.posixPermissions] as? Int
            #expect(mode == 0o600, "sessions.sqlite\(suffix): \(String(mode ?? 0, radix: 8))")
        }
        func size() throws -> Int {
            try ["", "-wal"].reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: store.path + $1)[.size] as? Int) ?? 0) }
        }
        let before = try size()
        #expect(try await store.prune(updatedBefore: Date().addingTimeInterval(-86400)) == 400)
        let after = try size()
        #expect(after < before / 4, "retention gave the space back: \(before) → \(after) bytes")
    }

    @Test func thePeerOfAConnectionIsLookedUpOnceAndForgottenAtClose() async throws {
        let cache = PeerCache()
        let channel = EmbeddedChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 32100)).get()
        #expect(await cache.peer(of: channel) == .tcp(address: "127.0.0.1", uid: nil))
        #expect(await cache.peer(of: channel) == .tcp(address: "127.0.0.1", uid: nil))
        #expect(cache.count == 1, "one lookup per connection")
        _ = try channel.finish()
        channel.embeddedEventLoop.run()
        #expect(cache.count == 0, "forgotten when the connection closes")
    }

    @Test func localAccountsAreLookedUpSafelyAndRememberedForAWhile() async throws {
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        // Many lookups at once, nothing remembered: each answer is its own account's. With the
        // shared buffer of `getpwuid`, one thread can read the name another just looked up.
        let uncached = LocalAccounts(lifetime: .zero)
        let names = await withTaskGroup(of: (UInt32, String?).self) { group in
            for index in 0..<400 {
                let uid: UInt32 = index.isMultiple(of: 2) ? 0 : nobody
                group.addTask { (uid, uncached.login(uid: uid)) }
            }
            return await group.reduce(into: [(UInt32, String?)]()) { $0.append($1) }
        }
        #expect(names.filter { $0.0 == 0 }.allSatisfy { $0.1 == "root" })
        #expect(names.filter { $0.0 == nobody }.allSatisfy { $0.1 == "nobody" })
        #expect(uncached.lookups == 400)

        let accounts = LocalAccounts(lifetime: .seconds(60))
        #expect(accounts.login(uid: 0) == "root")
        #expect(accounts.login(uid: 0) == "root")
        #expect(accounts.login(uid: 3_999_999_999) == nil, "no passwd entry")
        #expect(accounts.login(uid: 3_999_999_999) == nil)
        #expect(accounts.lookups == 2, "an answer, found or not, is remembered")
        #expect(accounts.isMember(uid: 0, gid: 0, group: "root"), "by primary group")
        #expect(!accounts.isMember(uid: nobody, gid: 65534, group: "root"))
        #expect(!accounts.isMember(uid: 0, gid: 0, group: "no-such-group-here"))
        #expect(accounts.isMember(uid: 0, gid: 0, group: "root"))
        #expect(accounts.lookups == 5)

        let auth = AuthService(tokens: [], requesterTokensRequired: false, approverGroup: "root", accounts: accounts)
        let identity = try auth.identify(authorization: nil, peer: .unix(PeerCredentials(pid: 1, uid: nobody, gid: 0))).get()
        #expect(identity?.name == "user:nobody")
        #expect(identity?.role == .approver, "gid 0 is the approver group's")
    }
}
