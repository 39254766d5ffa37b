/// A configuration problem, reported at start-up with where it is and why.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file (or `environment`) the bad value came from.
    public let source: String
    /// Dotted key path, e.g. `runners.max_concurrent`.
    public let key: String
    public let reason: String
    public let line: Int?

    public init(source: String, key: String, reason: String, line: Int? = nil) {
        self.source = source
        self.key = key
        self.reason = reason
        self.line = line
    }

    public var description: String {
        let place = line.map { "\(source):\($0)" } ?? source
        return key.isEmpty ? "\(place): \(reason)" : "\(place): \(key): \(reason)"
    }
}
