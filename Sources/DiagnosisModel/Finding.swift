import Foundation

/// How bad a finding is. `ok` marks a healthy check, so reports show what was ruled out.
public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
    case critical, high, medium, low, info, ok

    /// Higher is worse.
    public var rank: Int {
        switch self {
        case .critical: 5
        case .high: 4
        case .medium: 3
        case .low: 2
        case .info: 1
        case .ok: 0
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// Supporting data of a finding: a line of text or a small table. Always redacted.
public struct Evidence: Codable, Sendable, Equatable {
    public var label: String
    public var text: String?
    public var columns: [String]?
    public var rows: [[String]]?

    public static func text(_ label: String, _ text: String) -> Evidence {
        Evidence(label: label, text: text, columns: nil, rows: nil)
    }

    public static func table(_ label: String, columns: [String], rows: [[String]]) -> Evidence {
        Evidence(label: label, text: nil, columns: columns, rows: rows)
    }

    /// Every string it holds (for redaction and leak checks).
    public var strings: [String] {
        [label] + (text.map { [$0] } ?? []) + (columns ?? []) + (rows ?? []).flatMap { $0 }
    }

    public func mapStrings(_ transform: (String) -> String) -> Evidence {
        Evidence(
            label: transform(label),
            text: text.map(transform),
            columns: columns?.map(transform),
            rows: rows?.map { $0.map(transform) }
        )
    }
}

/// What a probe reports before the runner stamps it with id, domain, probe and time.
public struct FindingDraft: Codable, Sendable, Equatable {
    /// Stable machine-readable code (docs/DESIGN.md §13), e.g. `db.connections_saturated`, `net.ok`.
    public var code: String
    public var severity: Severity
    public var target: String
    public var title: String
    public var detail: String
    public var evidence: [Evidence]
    public var remediation: String
    /// Known causes this finding names (`too_many_clients`, `connection_refused`, `timeout`,
    /// `oom`, `tls`), so the synthesizer can connect findings across domains.
    public var tags: [String]
    /// When the problem started, when the probe can tell (a metric's change point, an alert's
    /// `activeAt`); ranking orders causes across domains by it.
    public var firstSeen: Date?
    /// The time series behind the finding, for a chart.
    public var series: MetricSeries?

    /// - Parameter code: a declared code (``FindingCode``); its text is what is stored.
    public init(
        code: FindingCode, severity: Severity, target: String, title: String, detail: String = "",
        evidence: [Evidence] = [], remediation: String = "", tags: [String] = [], firstSeen: Date? = nil, series: MetricSeries? = nil
    ) {
        self.firstSeen = firstSeen
        self.series = series
        self.code = code.rawValue
        self.severity = severity
        self.target = target
        self.title = title
        self.detail = detail
        self.evidence = evidence
        self.remediation = remediation
        self.tags = tags
    }

    enum CodingKeys: String, CodingKey {
        case code, severity, target, title, detail, evidence, remediation, tags, series
        case firstSeen = "first_seen"
    }
}

/// One observation of a probe (docs/DESIGN.md §5).
public struct Finding: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var domain: Domain
    public var probe: String
    public var code: String
    public var target: String
    public var severity: Severity
    public var title: String
    public var detail: String
    public var evidence: [Evidence]
    public var remediation: String
    public var tags: [String]
    public var observedAt: Date
    /// When it started, if the probe could tell (see ``FindingDraft/firstSeen``).
    public var firstSeen: Date?
    public var series: MetricSeries?

    public init(id: String, domain: Domain, probe: String, draft: FindingDraft, observedAt: Date) {
        self.id = id
        self.domain = domain
        self.probe = probe
        self.code = draft.code
        self.target = draft.target
        self.severity = draft.severity
        self.title = draft.title
        self.detail = draft.detail
        self.evidence = draft.evidence
        self.remediation = draft.remediation
        self.tags = draft.tags
        self.observedAt = observedAt
        self.firstSeen = draft.firstSeen
        self.series = draft.series
    }

    enum CodingKeys: String, CodingKey {
        case id, domain, probe, code, target, severity, title, detail, evidence, remediation, tags, series
        case observedAt = "observed_at"
        case firstSeen = "first_seen"
    }

    /// Applies `transform` to every free-text field (redaction).
    public func mapStrings(_ transform: (String) -> String) -> Finding {
        var copy = self
        copy.target = transform(target)
        copy.title = transform(title)
        copy.detail = transform(detail)
        copy.remediation = transform(remediation)
        copy.evidence = evidence.map { $0.mapStrings(transform) }
        copy.series = series?.mapStrings(transform)
        return copy
    }
}
