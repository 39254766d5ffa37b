import DiagnosisModel

/// The probes that examine what an inventory lists, per domain, with their targets, parameters
/// and credential references.
public enum InventoryProbes {
    public static func probes(for domain: Domain, in inventory: EnvironmentInventory) -> [ProbeRequest] {
        let candidates: [ProbeRequest]
        switch domain {
        case .database:
            candidates = inventory.databases.map(databaseProbe)
        case .network:
            candidates = (inventory.network?.endpoints ?? []).flatMap(networkProbes)
        default:
            candidates = []
        }
        let checks = inventory.checks.filter { $0.domain == domain }.map(\.probeRequest)
        // Only what this build can run.
        return candidates.filter { ProbeCatalog.info($0.probe) != nil } + checks
    }

    static func databaseProbe(_ database: DatabaseTarget) -> ProbeRequest {
        var params: [String: JSONValue] = [
            "name": .string(database.name), "host": .string(database.host), "port": .number(Double(database.port)),
            "database": .string(database.database), "tls": .string(database.tls.rawValue),
        ]
        if let user = database.user { params["user"] = .string(user) }
        return ProbeRequest(id: "db.postgres#\(database.name)", probe: "db.postgres", target: database.name, params: params, credential: database.credential)
    }

    static func networkProbes(_ endpoint: String) -> [ProbeRequest] {
        if endpoint.hasPrefix("tcp://") {
            let target = String(endpoint.dropFirst(6))
            return [ProbeRequest(id: "net.tcp_connect#\(target)", probe: "net.tcp_connect", target: target)]
        }
        return []
    }

    /// Every probe the inventory supports, grouped by domain.
    public static func all(in inventory: EnvironmentInventory) -> [Domain: [ProbeRequest]] {
        var result: [Domain: [ProbeRequest]] = [:]
        for domain in Domain.allCases {
            let probes = probes(for: domain, in: inventory)
            if !probes.isEmpty { result[domain] = probes }
        }
        return result
    }
}
