import Glibc
import Synchronization

/// Local account names and group membership as the system's name service reports them
/// (`/etc/passwd` and `/etc/group`, or LDAP and sssd where configured), remembered for a while.
///
/// Every request without a token asks, so an answer must be cheap. An uncached `getpwuid` opens
/// and parses `/etc/passwd` each time: about 4 % of a `/status` request's CPU under load, and
/// with sssd it can be a network round trip. The reentrant calls are used because `getpwuid`
/// and `getgrnam` return a buffer shared by every thread, so two requests at once could read
/// each other's answer.
///
/// An account renamed, or removed from the approver group, is seen within ``lifetime``.
final class LocalAccounts: Sendable {
    private struct Remembered<Value: Sendable>: Sendable {
        let value: Value
        let until: ContinuousClock.Instant
    }

    private struct MembershipKey: Hashable {
        let uid: UInt32
        let gid: UInt32
        let group: String
    }

    private struct State {
        var logins: [UInt32: Remembered<String?>] = [:]
        var memberships: [MembershipKey: Remembered<Bool>] = [:]
        var lookups = 0
    }

    private let state = Mutex(State())
    let lifetime: Duration
    /// Entries kept per kind; past it everything is forgotten at once (a host has few accounts
    /// that talk to the daemon, so this only bounds a flood of uids).
    let capacity: Int

    init(lifetime: Duration = .seconds(60), capacity: Int = 1024) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// Name-service lookups made (each answer remembered saves one).
    var lookups: Int { state.withLock { $0.lookups } }

    /// The account's login name, or nil when it has no passwd entry.
    func login(uid: UInt32) -> String? {
        remembered(\.logins, uid) { Self.lookUpLogin(uid: uid) } ?? nil
    }

    /// Whether the account is in `group`, as its primary group or a listed member.
    func isMember(uid: UInt32, gid: UInt32, group: String) -> Bool {
        remembered(\.memberships, MembershipKey(uid: uid, gid: gid, group: group)) {
            lookUpMembership(uid: uid, gid: gid, group: group)
        } ?? false
    }

    /// The remembered answer while it is fresh, else `lookUp`'s. A failed lookup (nil: the name
    /// service unreachable) is not an answer, so it is not remembered.
    private func remembered<Key: Hashable & Sendable, Value: Sendable>(
        _ table: WritableKeyPath<State, [Key: Remembered<Value>]>, _ key: Key, lookUp: () -> Value?
    ) -> Value? {
        let now = ContinuousClock.now
        if let known = state.withLock({ $0[keyPath: table][key] }), known.until > now { return known.value }
        state.withLock { $0.lookups += 1 }
        guard let value = lookUp() else { return nil }
        state.withLock { state in
            if state[keyPath: table].count >= capacity { state[keyPath: table].removeAll() }
            state[keyPath: table][key] = Remembered(value: value, until: now + lifetime)
        }
        return value
    }

    /// Nil when a lookup failed.
    private func lookUpMembership(uid: UInt32, gid: UInt32, group: String) -> Bool? {
        guard let found = Self.lookUpGroup(group) else { return nil }
        guard let entry = found else { return false }
        if entry.gid == gid { return true }
        guard let login = Self.lookUpLogin(uid: uid) else { return nil }
        guard let user = login else { return false }
        return entry.members.contains(user)
    }

    /// `.some(nil)`: no such account; nil: the lookup failed.
    private static func lookUpLogin(uid: UInt32) -> String?? {
        withGrowingBuffer { buffer, size in
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            let status = getpwuid_r(uid, &entry, buffer, size, &result)
            guard status == 0 else { return .failed(status) }
            guard result != nil, let name = entry.pw_name else { return .found(nil) }
            return .found(String(cString: name))
        }
    }

    /// `.some(nil)`: no such group; nil: the lookup failed.
    private static func lookUpGroup(_ name: String) -> (gid: UInt32, members: [String])?? {
        withGrowingBuffer { buffer, size in
            var entry = group()
            var result: UnsafeMutablePointer<group>?
            let status = getgrnam_r(name, &entry, buffer, size, &result)
            guard status == 0 else { return .failed(status) }
            guard result != nil else { return .found(nil) }
            var members: [String] = []
            var member = entry.gr_mem
            while let pointer = member?.pointee {
                members.append(String(cString: pointer))
                member = member?.advanced(by: 1)
            }
            return .found((entry.gr_gid, members))
        }
    }

    private enum Attempt<Value> {
        case found(Value)
        case failed(Int32)
    }

    /// Runs a `…_r` lookup with a buffer that doubles on `ERANGE` (a group with many members
    /// needs more than the usual 16 KiB), up to 1 MiB. Nil when the lookup failed.
    private static func withGrowingBuffer<Value>(_ body: (UnsafeMutablePointer<CChar>, Int) -> Attempt<Value>) -> Value? {
        var size = 16 << 10
        while size <= 1 << 20 {
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            switch body(buffer, size) {
            case .found(let value): return value
            case .failed(ERANGE): size *= 2
            case .failed: return nil
            }
        }
        return nil
    }
}
