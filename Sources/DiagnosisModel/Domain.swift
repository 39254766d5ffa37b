/// A diagnostic domain; each runs in its own runner process.
public enum Domain: String, Codable, Sendable, CaseIterable, Comparable {
    case database, cloud, kubernetes, logs, network, host, metrics

    public static func < (lhs: Domain, rhs: Domain) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }
}
