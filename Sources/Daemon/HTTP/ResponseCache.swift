import Foundation
import Synchronization

/// Encoded answers that can no longer change (the status and report of a finished session),
/// kept so repeated polling costs no database reads or encoding.
///
/// Bounded by bytes as well as entries — a finished session's status can be a few hundred bytes
/// or, with hundreds of findings, hundreds of kilobytes — so the daemon's memory stays flat
/// whatever the sessions hold. Oldest out first; an answer larger than a quarter of the budget is
/// not kept at all.
final class ResponseCache: Sendable {
    private struct State {
        var values: [String: Data] = [:]
        var order: [String] = []
        var bytes = 0
    }

    private let state = Mutex(State())
    let capacity: Int
    let capacityBytes: Int

    init(capacity: Int = 512, capacityBytes: Int = 512 << 10) {
        self.capacity = capacity
        self.capacityBytes = capacityBytes
    }

    func get(_ key: String) -> Data? { state.withLock { $0.values[key] } }

    func put(_ key: String, _ value: Data) {
        guard value.count <= capacityBytes / 4 else { return }
        state.withLock { state in
            if let previous = state.values.updateValue(value, forKey: key) {
                state.bytes -= previous.count
            } else {
                state.order.append(key)
            }
            state.bytes += value.count
            while state.order.count > capacity || state.bytes > capacityBytes {
                if let removed = state.values.removeValue(forKey: state.order.removeFirst()) { state.bytes -= removed.count }
            }
        }
    }

    /// Entries and bytes held.
    var usage: (entries: Int, bytes: Int) { state.withLock { ($0.values.count, $0.bytes) } }
}
