import Foundation
import Synchronization

/// Encoded answers that can no longer change (the status and report of a finished session),
/// kept so repeated polling costs no database reads or encoding. Bounded; oldest out first.
final class ResponseCache: Sendable {
    private let entries = Mutex<(values: [String: Data], order: [String])>(([:], []))
    let capacity: Int

    init(capacity: Int = 512) { self.capacity = capacity }

    func get(_ key: String) -> Data? { entries.withLock { $0.values[key] } }

    func put(_ key: String, _ value: Data) {
        entries.withLock { state in
            if state.values.updateValue(value, forKey: key) == nil { state.order.append(key) }
            while state.order.count > capacity { state.values.removeValue(forKey: state.order.removeFirst()) }
        }
    }
}
