/// One probe to run, as planned: which check, against what, with which parameters.
public struct ProbeRequest: Codable, Sendable, Equatable {
    /// Unique within a job, e.g. `db.connections#orders-db`.
    public var id: String
    /// Catalogue name, e.g. `db.connections`, `net.tcp_connect`, `command`.
    public var probe: String
    public var target: String
    public var params: [String: JSONValue]
    /// Credential reference the probe needs, if any.
    public var credential: String?
    /// Per-probe timeout; nil means the probe's default.
    public var timeoutSeconds: Double?

    public init(id: String, probe: String, target: String, params: [String: JSONValue] = [:], credential: String? = nil, timeoutSeconds: Double? = nil) {
        self.id = id
        self.probe = probe
        self.target = target
        self.params = params
        self.credential = credential
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case id, probe, target, params, credential
        case timeoutSeconds = "timeout_s"
    }
}

/// Why a credential reference is needed: shown to the approver.
/// A credential reference the plan needs: what the human is asked to approve.
public typealias CredentialNeed = ApprovalItem

/// What one domain's runner will do.
public struct DomainPlan: Codable, Sendable, Equatable {
    public var domain: Domain
    public var probes: [ProbeRequest]
    public var rationale: String

    public init(domain: Domain, probes: [ProbeRequest], rationale: String) {
        self.domain = domain
        self.probes = probes
        self.rationale = rationale
    }

    /// Credential references this domain's probes need.
    public var credentialReferences: [String] {
        var seen: [String] = []
        for reference in probes.compactMap(\.credential) where !seen.contains(reference) { seen.append(reference) }
        return seen
    }
}

/// The planner's answer: domains, probes, credentials and why.
public struct DiagnosisPlan: Codable, Sendable, Equatable {
    public var domains: [DomainPlan]
    public var rationale: String
    /// `rules` or `llm`.
    public var planner: String
    /// Playbooks that matched (rule planner).
    public var playbooks: [String]

    public init(domains: [DomainPlan], rationale: String, planner: String, playbooks: [String] = []) {
        self.domains = domains
        self.rationale = rationale
        self.planner = planner
        self.playbooks = playbooks
    }

    /// Every credential the plan needs, with the domain and probes that use it.
    public var credentialNeeds: [CredentialNeed] {
        var needs: [CredentialNeed] = []
        for domain in domains {
            for reference in domain.credentialReferences {
                let probes = domain.probes.filter { $0.credential == reference }.map(\.probe)
                needs.append(CredentialNeed(reference: reference, domain: domain.domain, probes: probes, purpose: domain.rationale))
            }
        }
        return needs
    }
}
