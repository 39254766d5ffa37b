import DiagnosisModel
import Foundation

/// Ranks what is wrong by evidence, not by a severity formula.
///
/// Candidates are the findings of *cause* codes (a component itself broken); each *symptom*
/// (a client's errors, a log signature, a firing alarm) is folded into the cause that explains it
/// — preferring the cause whose component it names — and counts as that cause's evidence. A
/// symptom nothing explains stays a candidate of its own, below every directly observed cause.
/// Scores weigh, in order of strength: direct observation, what the user said (problem text and
/// context), severity, symptoms explained (more when they name the component), and time order.
/// Ties break on those criteria, then on the codes' declaration order and the target — never on
/// titles.
public struct CausalRanker: Sendable {
    public struct Candidate: Sendable {
        /// The worst finding of its group (same code and target).
        public var anchor: Finding
        public var group: [Finding]
        public var role: FindingCode.Role
        /// Symptoms (and lesser causes) folded into it, with how each is linked to it.
        public var explained: [(finding: Finding, link: Link)] = []
        public var userMatch: [String] = []
        public var firstSeen: Date?
        public var precedesSymptoms = false

        public var findings: [Finding] { group + explained.map(\.finding) }
        var declaration: FindingCode.Declaration? { FindingCode(rawValue: anchor.code).declaration }

        /// How directly it was observed: a component a probe found broken (20), a symptom a
        /// probe measured (3), a log mention (0). A cause the probe itself rates low (a
        /// certificate that expires next month) is real but not breaking anything now: it ranks
        /// with the symptoms.
        var directness: Double {
            if role == .cause { return anchor.severity >= .medium ? 20 : 3 }
            return declaration?.component == .logSource ? 0 : 3
        }

        /// Explained findings linked by name or by the failure they report.
        var strongLinks: Int { explained.filter { $0.link != .code }.count }
        var weakLinks: Int { explained.count - strongLinks }

        var score: Double {
            // A symptom that names a known failure ("too many clients", "no such host") says
            // more than one that does not.
            let specific = role != .cause && !anchor.tags.isEmpty ? 2.0 : 0
            return directness + Double(min(userMatch.count, 2)) * 3 + Double(anchor.severity.rank) * 2 + specific
                + Double(min(strongLinks, 4)) * 2.5 + Double(min(weakLinks, 4)) * 0.75 + (precedesSymptoms ? 1 : 0)
        }
    }

    /// How a folded finding is tied to its cause.
    public enum Link: Sendable, Equatable {
        /// It names the cause's component (host, port, name).
        case names
        /// It reports the failure the cause produces ("too many clients" for saturation).
        case tag
        /// Only its kind fits (an HTTP error, for a database that is down).
        case code
    }

    public init() {}

    public func rank(_ findings: [Finding], problem: String, context: [String: String]) -> [Candidate] {
        let problems = findings.filter { $0.severity != .ok && $0.severity != .info && Self.role(of: $0) != .meta && Self.role(of: $0) != .healthy }
        var candidates = Self.groups(problems)
        let hints = UserHints(problem: problem, context: context)
        for index in candidates.indices { candidates[index].userMatch = hints.matches(candidates[index]) }
        candidates = Self.fold(candidates)
        for index in candidates.indices {
            // Probes observe now; logs and alarms remember when it started.
            candidates[index].firstSeen = Self.firstSeen(candidates[index].findings)
            let own = Self.evidenceFirstSeen(candidates[index].group)
            let symptoms = Self.evidenceFirstSeen(candidates[index].explained.map(\.finding))
            if let own, let symptoms { candidates[index].precedesSymptoms = own <= symptoms }
        }
        return candidates.sorted(by: Self.ranksBefore)
    }

    static func role(of finding: Finding) -> FindingCode.Role {
        // A code nobody declared (a playbook's own check) is a symptom: something reports a
        // failure without saying which component is broken.
        FindingCode(rawValue: finding.code).declaration?.role ?? .symptom
    }

    /// One candidate per code and target.
    static func groups(_ findings: [Finding]) -> [Candidate] {
        var order: [String] = []
        var byKey: [String: [Finding]] = [:]
        for finding in findings {
            let key = "\(finding.code)|\(finding.target)"
            if byKey[key] == nil { order.append(key) }
            byKey[key, default: []].append(finding)
        }
        return order.compactMap { key in
            guard let group = byKey[key], let worst = group.max(by: { $0.severity < $1.severity }) else { return nil }
            return Candidate(anchor: worst, group: group, role: role(of: worst))
        }
    }

    /// Folds each symptom into the cause that explains it, and a cause into another cause that
    /// explains it by name or by the failure it reports (a crashloop whose last log says "too many
    /// clients" into the saturated database). Strongest explainers first, so evidence goes where
    /// it fits best.
    static func fold(_ candidates: [Candidate]) -> [Candidate] {
        var causes = candidates.filter { $0.role == .cause }.sorted(by: ranksBefore)
        var remaining: [Candidate] = []
        for candidate in candidates where candidate.role != .cause {
            if let (index, link) = bestExplainer(for: candidate, among: causes, chain: false) {
                causes[index].explained += candidate.group.map { ($0, link) }
            } else {
                remaining.append(candidate)
            }
        }
        // Weakest first, so nothing folds in a circle.
        var folded: Set<Int> = []
        for index in causes.indices.reversed() {
            let others = causes.indices.filter { $0 != index && !folded.contains($0) }
            guard let (best, link) = bestExplainer(for: causes[index], among: others.map { causes[$0] }, chain: true) else { continue }
            causes[others[best]].explained += causes[index].findings.map { ($0, link) }
            folded.insert(index)
        }
        return causes.indices.filter { !folded.contains($0) }.map { causes[$0] } + remaining
    }

    /// The cause that best explains `candidate`, and how: by name first, then by the failure it
    /// reports, then (for a probe's symptom, not a log line or another cause) by kind alone.
    static func bestExplainer(for candidate: Candidate, among causes: [Candidate], chain: Bool) -> (Int, Link)? {
        let links = causes.indices.compactMap { index in link(candidate.anchor, to: causes[index], chain: chain).map { (index, $0) } }
        for wanted in [Link.names, .tag, .code] {
            if let match = links.first(where: { $0.1 == wanted }) { return match }
        }
        return nil
    }

    static func link(_ finding: Finding, to cause: Candidate, chain: Bool) -> Link? {
        guard let declaration = cause.declaration else { return nil }
        let byCode = declaration.explains.contains(finding.code)
        let byTag = finding.tags.contains { declaration.explains.contains("tag:\($0)") }
        guard byCode || byTag else { return nil }
        if namesComponent(of: cause, in: finding) { return .names }
        if byTag { return .tag }
        let logDerived = FindingCode(rawValue: finding.code).declaration?.component == .logSource
        return chain || logDerived ? nil : .code
    }

    /// Whether `finding` mentions the component `cause` is about: its host, port, or name.
    static func namesComponent(of cause: Candidate, in finding: Finding) -> Bool {
        let text = ([finding.target, finding.title, finding.detail] + finding.evidence.flatMap { ($0.text.map { [$0] } ?? []) + ($0.rows ?? []).flatMap { $0 } })
            .joined(separator: " ").lowercased()
        return componentTokens(cause.anchor.target).contains { text.contains($0) }
    }

    /// Distinctive parts of a target (`orders-db.internal:5432` → orders-db.internal, orders-db,
    /// :5432); generic words are left out.
    static func componentTokens(_ target: String) -> [String] {
        let lower = target.lowercased()
        var tokens: Set<String> = []
        for part in lower.split(whereSeparator: { " ,/()[]\"'".contains($0) }) {
            let piece = String(part)
            let hostPort = piece.split(separator: ":", maxSplits: 1).map(String.init)
            if let host = hostPort.first, host.count >= 4 {
                tokens.insert(host)
                if let short = host.split(separator: ".").first, short.count >= 4, short != host { tokens.insert(String(short)) }
            }
            if hostPort.count == 2, hostPort[1].count >= 2, hostPort[1].allSatisfy(\.isNumber) { tokens.insert(":\(hostPort[1])") }
        }
        return tokens.filter { !genericWords.contains($0) }.sorted()
    }

    static let genericWords: Set<String> = ["localhost", "127.0.0.1", "default", "nodes", "journal", "kernel", "host", "http", "https", "tcp"]

    /// The earliest moment the evidence shows (log "first seen" columns), else when observed.
    public static func firstSeen(_ findings: [Finding]) -> Date? {
        evidenceFirstSeen(findings) ?? findings.map(\.observedAt).min()
    }

    /// The earliest start the findings record — a metric's change point, an alert's activeAt,
    /// a log signature's "first seen" column — if any.
    static func evidenceFirstSeen(_ findings: [Finding]) -> Date? {
        var dates: [Date] = findings.compactMap(\.firstSeen)
        for finding in findings {
            for evidence in finding.evidence {
                guard let columns = evidence.columns, let index = columns.firstIndex(of: "first seen") else { continue }
                for row in evidence.rows ?? [] where index < row.count {
                    if let date = JSONCoding.parseDate(row[index]) { dates.append(date) }
                }
            }
        }
        return dates.min()
    }

    /// The order of the report: score, then severity, symptoms explained, first seen, the code's
    /// declaration order, the target.
    static func ranksBefore(_ a: Candidate, _ b: Candidate) -> Bool {
        if a.score != b.score { return a.score > b.score }
        if a.anchor.severity != b.anchor.severity { return a.anchor.severity > b.anchor.severity }
        if a.explained.count != b.explained.count { return a.explained.count > b.explained.count }
        if let x = a.firstSeen, let y = b.firstSeen, x != y { return x < y }
        let (x, y) = (declarationIndex[a.anchor.code] ?? Int.max, declarationIndex[b.anchor.code] ?? Int.max)
        if x != y { return x < y }
        return a.anchor.target < b.anchor.target
    }

    static let declarationIndex: [String: Int] = Dictionary(uniqueKeysWithValues: FindingCode.declarations.enumerated().map { ($1.code.rawValue, $0) })
}

/// What the user's words say about where to look: the kind of failure the problem text names,
/// and the names (service, namespace, instance) of the context.
struct UserHints {
    /// Words of a problem statement → the codes they point at.
    static let vocabulary: [(words: [String], codes: Set<String>, label: String)] = [
        (["database", " db", "db ", "postgres", "sql", "query", "queries", "connection pool", "too many connections"],
         ["db.dns_failure", "db.unreachable", "db.tls_error", "db.auth_failed", "db.connections_saturated", "db.lock_contention", "db.idle_in_transaction", "db.long_running_query", "db.replication_lag", "aws.rds_unavailable"], "the database"),
        (["slow", "latency", "takes forever", "timeout", "timing out", "times out", "hang", "stuck", "sluggish", "p99"],
         ["db.lock_contention", "db.long_running_query", "db.idle_in_transaction", "db.connections_saturated", "host.memory_pressure", "net.http_slow", "host.load_high", "k8s.node_pressure", "metrics.latency", "metrics.saturation"], "slowness"),
        (["certificate", " cert", "tls", "ssl", "https", "x509", "handshake"], ["net.tls_expired", "net.tls_expiring", "net.tls_untrusted", "db.tls_error"], "TLS"),
        (["disk", "space", "storage", "no space", "volume", "inode", "full"], ["host.disk_full", "host.inodes_exhausted", "aws.rds_unavailable", "k8s.pvc_pending", "metrics.saturation"], "storage"),
        (["memory", "oom", "out of memory", "killed"], ["host.oom_kill", "k8s.oomkilled", "host.memory_pressure", "metrics.saturation", "metrics.restarts"], "memory"),
        (["pod", "crash", "restart", "deploy", "rollout", "kubernetes", "k8s", "container", "image", "schedul", "node"],
         ["k8s.crashloop", "k8s.oomkilled", "k8s.image_pull", "k8s.unschedulable", "k8s.node_not_ready", "k8s.node_pressure", "k8s.pvc_pending", "k8s.job_failed", "metrics.restarts"], "the cluster"),
        (["dns", "resolve", "resolution", "nxdomain", "no such host"], ["net.dns_failure", "db.dns_failure", "net.dns_mismatch"], "name resolution"),
        (["refused", "unreachable", "cannot connect", "can't connect", "is down", "went down", "not reachable"],
         ["net.tcp_refused", "net.tcp_timeout", "db.unreachable", "k8s.service_no_endpoints", "aws.ec2_impaired", "net.dns_mismatch", "metrics.target_down"], "a connection failure"),
        (["dying", "dies", "died", "keeps crashing", "crashed", "killed", "exits"], ["host.oom_kill", "k8s.crashloop", "k8s.oomkilled"], "a process that dies"),
        (["password", "login", "auth", "credential", "permission denied", "rotated", "rotation"], ["db.auth_failed"], "authentication"),
        (["rds", "ec2", "aws", "load balancer", "alb", "elb", "target group"], ["aws.rds_unavailable", "aws.ec2_impaired", "aws.targets_unhealthy"], "the cloud resources"),
        (["job", "cron", "batch", "backup"], ["k8s.job_failed"], "the job"),
        (["error rate", "error ratio", "5xx", "errors", "failing requests"], ["metrics.error_ratio"], "errors"),
        (["alert", "firing", "paged"], ["metrics.alert_firing"], "the alert"),
    ]

    let text: String
    let names: [String]

    init(problem: String, context: [String: String]) {
        text = " \(problem.lowercased()) "
        names = context.values.map { $0.lowercased() }.filter { $0.count >= 3 }
    }

    /// Why `candidate` matches what the user said (at most one reason per kind).
    func matches(_ candidate: CausalRanker.Candidate) -> [String] {
        var reasons: [String] = []
        for entry in Self.vocabulary where entry.codes.contains(candidate.anchor.code) && entry.words.contains(where: { text.contains($0) }) {
            reasons.append("the problem is about \(entry.label)")
            break
        }
        let subjects = candidate.group.map { "\($0.target) \($0.title)".lowercased() }
        if let name = names.first(where: { name in subjects.contains { $0.contains(name) } }) {
            reasons.append("it is about \(name), named in the context")
        }
        return reasons
    }
}
