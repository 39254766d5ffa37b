import Foundation
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
            // The environment's CA bundle reaches every probe that verifies certificates.
            candidates = (inventory.network?.endpoints ?? []).flatMap(networkProbes).map { probe in
                var probe = probe
                if let caFile = inventory.caFile, ["net.tls", "net.http"].contains(probe.probe), probe.params["ca_file"] == nil {
                    probe.params["ca_file"] = .string(caFile)
                }
                return probe
            }
        case .host:
            candidates = inventory.host.map(hostProbes) ?? []
        case .cloud:
            candidates = (inventory.aws.map(awsProbes) ?? []).map { probe in
                var probe = probe
                if let caFile = inventory.caFile, probe.params["ca_file"] == nil { probe.params["ca_file"] = .string(caFile) }
                return probe
            }
        case .kubernetes:
            candidates = inventory.kubernetes.map(kubernetesProbes) ?? []
        case .logs:
            candidates = inventory.logs.map(logProbes) ?? []
        case .metrics:
            candidates = (inventory.metrics.map { metricsProbes($0.prometheus) } ?? []).map { probe in
                var probe = probe
                if let caFile = inventory.caFile, probe.params["ca_file"] == nil { probe.params["ca_file"] = .string(caFile) }
                return probe
            }
        }
        let checks = inventory.checks.filter { $0.domain == domain }.map(\.probeRequest)
        // Only what this build can run.
        return candidates.filter { ProbeCatalog.info($0.probe) != nil } + checks
    }

    static func databaseProbe(_ database: DatabaseTarget) -> ProbeRequest {
        let probe = ProbeCatalog.probe(for: database.engine)?.name ?? "db.\(database.engine.rawValue)"
        var params: [String: JSONValue] = [
            "name": .string(database.name), "host": .string(database.host), "port": .number(Double(database.port)),
            "database": .string(database.database), "tls": .string(database.tls.rawValue),
        ]
        if let user = database.user { params["user"] = .string(user) }
        return ProbeRequest(id: "\(probe)#\(database.name)", probe: probe, target: database.name, params: params, credential: database.credential)
    }

    static func kubernetesProbes(_ kubernetes: KubernetesInventory) -> [ProbeRequest] {
        var params: [String: JSONValue] = ["namespaces": .array(kubernetes.namespaces.map(JSONValue.string))]
        if let context = kubernetes.context { params["context"] = .string(context) }
        if let path = kubernetes.kubeconfig { params["kubeconfig"] = .string(path) }
        let target = kubernetes.namespaces.isEmpty ? "default" : kubernetes.namespaces.joined(separator: ",")
        return ["k8s.workloads", "k8s.nodes", "k8s.services", "k8s.storage", "k8s.jobs", "k8s.events"].map {
            ProbeRequest(id: "\($0)#\(target)", probe: $0, target: $0 == "k8s.nodes" ? "cluster" : target, params: params, credential: kubernetes.kubeconfigCredential)
        }
    }

    /// Alerts, targets and signals of one Prometheus-API backend. Placeholders the context did
    /// not fill (``RulePlanner``) become the service's own name, or `.*`.
    static func metricsProbes(_ prometheus: PrometheusSource) -> [ProbeRequest] {
        var connection: [String: JSONValue] = ["url": .string(prometheus.url)]
        if let caFile = prometheus.caFile { connection["ca_file"] = .string(caFile) }
        let target = prometheus.url
        var signals = connection
        let configured: [JSONValue] = prometheus.services.flatMap { service in
            service.signals.map { signal in
                let filled = signal.filled(["service": service.service])
                var object: [String: JSONValue] = ["kind": .string(filled.kind.rawValue), "query": .string(filled.query), "service": .string(service.service)]
                if let threshold = filled.threshold { object["threshold"] = .number(threshold) }
                if let unit = filled.unit { object["unit"] = .string(unit) }
                return .object(object)
            }
        }
        signals["signals"] = .array(configured)
        signals["builtin"] = .bool(prometheus.builtinSignals)
        let window = prometheus.window
        signals["range_s"] = .number(Double(window.rangeSeconds))
        signals["recent_s"] = .number(Double(window.recentSeconds))
        signals["baseline_s"] = .number(Double(window.baselineSeconds))
        if window.compareDayBefore { signals["day_before"] = .bool(true) }
        let services = prometheus.services.map(\.service)
        return [
            ProbeRequest(id: "metrics.alerts#\(target)", probe: "metrics.alerts", target: target, params: connection, credential: prometheus.credential),
            ProbeRequest(id: "metrics.targets#\(target)", probe: "metrics.targets", target: target, params: connection, credential: prometheus.credential),
            ProbeRequest(id: "metrics.signals#\(target)", probe: "metrics.signals", target: services.isEmpty ? target : services.joined(separator: ","), params: signals, credential: prometheus.credential),
        ]
    }

    static func awsProbes(_ aws: AWSInventory) -> [ProbeRequest] {
        var params: [String: JSONValue] = ["region": .string(aws.region)]
        if let endpoint = aws.endpointURL { params["endpoint_url"] = .string(endpoint) }
        var probes = ["aws.rds", "aws.alarms", "aws.ec2", "aws.targets"].map {
            ProbeRequest(id: "\($0)#\(aws.region)", probe: $0, target: aws.region, params: params, credential: aws.credential)
        }
        if !aws.logGroups.isEmpty {
            var logs = params
            logs["log_groups"] = .array(aws.logGroups.map(JSONValue.string))
            probes.append(ProbeRequest(id: "aws.logs#\(aws.region)", probe: "aws.logs", target: aws.logGroups.joined(separator: ","), params: logs, credential: aws.credential))
        }
        return probes
    }

    static func hostProbes(_ host: HostInventory) -> [ProbeRequest] {
        var disk: [String: JSONValue] = ["warn_percent": .number(host.diskWarnPercent), "critical_percent": .number(host.diskCriticalPercent)]
        if !host.mounts.isEmpty { disk["mounts"] = .array(host.mounts.map(JSONValue.string)) }
        return [
            ProbeRequest(id: "host.disk", probe: "host.disk", target: "disks", params: disk),
            ProbeRequest(id: "host.memory", probe: "host.memory", target: "memory"),
            ProbeRequest(id: "host.load", probe: "host.load", target: "cpu"),
            ProbeRequest(id: "host.oom", probe: "host.oom", target: "kernel"),
        ]
    }

    static func logProbes(_ logs: LogsInventory) -> [ProbeRequest] {
        var journal: [String: JSONValue] = ["lookback_s": .number(Double(logs.lookbackSeconds))]
        if !logs.journaldUnits.isEmpty { journal["units"] = .array(logs.journaldUnits.map(JSONValue.string)) }
        if let directory = logs.journalDirectory { journal["journal_directory"] = .string(directory) }
        if !logs.journalFiles.isEmpty { journal["journal_files"] = .array(logs.journalFiles.map(JSONValue.string)) }
        var probes: [ProbeRequest] = []
        if logs.journald {
            probes.append(ProbeRequest(id: "logs.journald", probe: "logs.journald", target: logs.journaldUnits.isEmpty ? "journal" : logs.journaldUnits.joined(separator: ","), params: journal))
        }
        for pattern in logs.files {
            probes.append(ProbeRequest(id: "logs.files#\(pattern)", probe: "logs.files", target: pattern, params: ["lookback_s": .number(Double(logs.lookbackSeconds))]))
        }
        return probes
    }

    static func networkProbes(_ endpoint: String) -> [ProbeRequest] {
        if endpoint.hasPrefix("tcp://") {
            let target = String(endpoint.dropFirst(6))
            return [ProbeRequest(id: "net.tcp_connect#\(target)", probe: "net.tcp_connect", target: target)]
        }
        if endpoint.hasPrefix("tls://") {
            let target = String(endpoint.dropFirst(6))
            return [ProbeRequest(id: "net.tls#\(target)", probe: "net.tls", target: target)]
        }
        if endpoint.hasPrefix("dns://") {
            // dns://name?expect=10.0.1.7,10.0.1.8 also checks the answer.
            let parts = endpoint.dropFirst(6).split(separator: "?", maxSplits: 1)
            let target = String(parts.first ?? "")
            if parts.count == 2, parts[1].hasPrefix("expect=") {
                let expected = parts[1].dropFirst(7).split(separator: ",").map { JSONValue.string(String($0)) }
                return [ProbeRequest(id: "net.dns_record#\(target)", probe: "net.dns_record", target: target, params: ["expect": .array(expected)])]
            }
            return [ProbeRequest(id: "net.dns#\(target)", probe: "net.dns", target: target)]
        }
        if endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") {
            var probes = [ProbeRequest(id: "net.http#\(endpoint)", probe: "net.http", target: endpoint)]
            if endpoint.hasPrefix("https://"), let url = URL(string: endpoint), let host = url.host {
                let target = "\(host):\(url.port ?? 443)"
                probes.append(ProbeRequest(id: "net.tls#\(target)", probe: "net.tls", target: target))
            }
            return probes
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
