import DiagnosisModel
import Foundation

/// `aws.rds`: DB instances that are not `available`, with their recent events.
public struct AWSRDSProbe: Probe {
    public static let name = "aws.rds"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await AWSCLI.run(context) { aws in
            let answer = try await aws.call(["rds", "describe-db-instances"])
            let instances = answer["DBInstances"] as? [[String: Any]] ?? []
            var healthy: [String] = []
            for instance in instances {
                let id = instance["DBInstanceIdentifier"] as? String ?? "?"
                let status = instance["DBInstanceStatus"] as? String ?? "unknown"
                guard status != "available" else { healthy.append(id); continue }
                let events = (try? await aws.call(["rds", "describe-events", "--source-type", "db-instance", "--source-identifier", id, "--duration", "1440"]))?["Events"] as? [[String: Any]] ?? []
                let severe: Set<String> = ["storage-full", "failed", "incompatible-network", "incompatible-parameters", "incompatible-restore", "inaccessible-encryption-credentials", "stopped", "storage-optimization"]
                let rows = events.suffix(10).map { [($0["Date"] as? String) ?? "", ($0["Message"] as? String) ?? ""] }
                await context.report(FindingDraft(
                    code: .awsRDSUnavailable, severity: severe.contains(status) ? .critical : .medium, target: id,
                    title: status == "storage-full" ? "RDS instance \(id) is out of storage (storage-full)" : "RDS instance \(id) is \(status)",
                    detail: "Engine \(instance["Engine"] as? String ?? "?") \(instance["DBInstanceClass"] as? String ?? ""), \(instance["AllocatedStorage"].map { "\($0)" } ?? "?") GiB allocated; status \(status).",
                    evidence: [
                        .table("instance", columns: ["identifier", "status", "engine", "class", "storage GiB", "endpoint"], rows: [[
                            id, status, instance["Engine"] as? String ?? "", instance["DBInstanceClass"] as? String ?? "",
                            instance["AllocatedStorage"].map { "\($0)" } ?? "", ((instance["Endpoint"] as? [String: Any])?["Address"] as? String) ?? "",
                        ]]),
                    ] + (rows.isEmpty ? [] : [.table("recent RDS events", columns: ["time", "message"], rows: rows)]),
                    remediation: status == "storage-full"
                        ? "Increase allocated storage (aws rds modify-db-instance --db-instance-identifier \(id) --allocated-storage <GiB> --apply-immediately) or enable storage autoscaling."
                        : "Check the RDS console events for \(id) and wait for or fix the operation in progress.",
                    tags: status == "storage-full" ? ["disk_full"] : ["unavailable"]
                ))
            }
            if !healthy.isEmpty || instances.isEmpty {
                await context.report(FindingDraft(code: .awsOK, severity: .ok, target: aws.region, title: instances.isEmpty ? "No RDS instances in \(aws.region)" : "RDS instances available: \(healthy.joined(separator: ", "))"))
            }
        }
    }
}

/// `aws.alarms`: CloudWatch alarms in the ALARM state.
public struct AWSAlarmsProbe: Probe {
    public static let name = "aws.alarms"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await AWSCLI.run(context) { aws in
            let answer = try await aws.call(["cloudwatch", "describe-alarms", "--state-value", "ALARM"])
            let alarms = answer["MetricAlarms"] as? [[String: Any]] ?? []
            for alarm in alarms {
                let name = alarm["AlarmName"] as? String ?? "?"
                let dimensions = (alarm["Dimensions"] as? [[String: Any]] ?? []).map { "\($0["Name"] as? String ?? "")=\($0["Value"] as? String ?? "")" }.joined(separator: ", ")
                let metric = "\(alarm["Namespace"] as? String ?? "")/\(alarm["MetricName"] as? String ?? "")"
                let reason = alarm["StateReason"] as? String ?? ""
                await context.report(FindingDraft(
                    code: .awsAlarmFiring, severity: .high, target: name,
                    title: "CloudWatch alarm \(name) is firing (\(metric)\(dimensions.isEmpty ? "" : " \(dimensions)"))",
                    detail: reason,
                    evidence: [.table("alarm", columns: ["alarm", "metric", "dimensions", "threshold", "since"], rows: [[
                        name, metric, dimensions, "\(alarm["ComparisonOperator"] as? String ?? "") \(alarm["Threshold"].map { "\($0)" } ?? "")",
                        alarm["StateUpdatedTimestamp"] as? String ?? "",
                    ]])],
                    remediation: "Look at \(metric) for \(dimensions.isEmpty ? "the resource" : dimensions) around the alarm time.",
                    tags: metric.lowercased().contains("storage") || metric.lowercased().contains("disk") ? ["disk_full"] : []
                ))
            }
            if alarms.isEmpty {
                await context.report(FindingDraft(code: .awsOK, severity: .ok, target: aws.region, title: "No CloudWatch alarms firing in \(aws.region)"))
            }
        }
    }
}

/// `aws.ec2`: instances whose instance or system status checks are not ok.
public struct AWSEC2Probe: Probe {
    public static let name = "aws.ec2"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await AWSCLI.run(context) { aws in
            let answer = try await aws.call(["ec2", "describe-instance-status", "--include-all-instances"])
            let statuses = answer["InstanceStatuses"] as? [[String: Any]] ?? []
            var impaired: [[String]] = []
            for status in statuses {
                let state = (status["InstanceState"] as? [String: Any])?["Name"] as? String ?? "?"
                guard state == "running" else { continue }
                let instance = (status["InstanceStatus"] as? [String: Any])?["Status"] as? String ?? "?"
                let system = (status["SystemStatus"] as? [String: Any])?["Status"] as? String ?? "?"
                if instance == "impaired" || system == "impaired" || instance == "insufficient-data" && system == "impaired" {
                    impaired.append([status["InstanceId"] as? String ?? "?", status["AvailabilityZone"] as? String ?? "", instance, system])
                }
            }
            if impaired.isEmpty {
                await context.report(FindingDraft(code: .awsOK, severity: .ok, target: aws.region, title: "EC2 status checks pass for \(statuses.count) instance(s)"))
            } else {
                await context.report(FindingDraft(
                    code: .awsEC2Impaired, severity: .high, target: impaired.map { $0[0] }.joined(separator: ", "),
                    title: "\(impaired.count) EC2 instance(s) fail status checks",
                    detail: "System status failures mean the underlying host; instance status failures the OS or network inside.",
                    evidence: [.table("impaired instances", columns: ["instance", "zone", "instance status", "system status"], rows: impaired)],
                    remediation: "Stop/start instances with failed system checks to move them to healthy hardware; for instance checks, look at the console output (aws ec2 get-console-output)."
                ))
            }
        }
    }
}

/// `aws.targets`: ELBv2 target groups with unhealthy targets and why.
public struct AWSTargetsProbe: Probe {
    public static let name = "aws.targets"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await AWSCLI.run(context) { aws in
            let groups = (try await aws.call(["elbv2", "describe-target-groups"]))["TargetGroups"] as? [[String: Any]] ?? []
            var anyUnhealthy = false
            for group in groups {
                guard let arn = group["TargetGroupArn"] as? String else { continue }
                let name = group["TargetGroupName"] as? String ?? arn
                let health = (try await aws.call(["elbv2", "describe-target-health", "--target-group-arn", arn]))["TargetHealthDescriptions"] as? [[String: Any]] ?? []
                let rows = health.compactMap { description -> [String]? in
                    let state = description["TargetHealth"] as? [String: Any] ?? [:]
                    guard let value = state["State"] as? String, value != "healthy" else { return nil }
                    let target = description["Target"] as? [String: Any] ?? [:]
                    return ["\(target["Id"] as? String ?? "?"):\(target["Port"].map { "\($0)" } ?? "")", value, state["Reason"] as? String ?? "", state["Description"] as? String ?? ""]
                }
                guard !rows.isEmpty else { continue }
                anyUnhealthy = true
                await context.report(FindingDraft(
                    code: .awsTargetsUnhealthy, severity: rows.count == health.count ? .critical : .high, target: name,
                    title: "\(rows.count) of \(health.count) target(s) unhealthy in \(name)",
                    detail: "The load balancer stops sending traffic to unhealthy targets; with none healthy it answers 502/503.",
                    evidence: [.table("unhealthy targets", columns: ["target", "state", "reason", "description"], rows: rows)],
                    remediation: "Check the health-check path/port of \(name) against the application and the security groups between the load balancer and the targets.",
                    tags: ["upstream"]
                ))
            }
            if !anyUnhealthy {
                await context.report(FindingDraft(code: .awsOK, severity: .ok, target: aws.region, title: "All targets healthy in \(groups.count) target group(s)"))
            }
        }
    }
}

/// `aws.logs`: CloudWatch Logs filtered for error patterns in the configured log groups.
public struct AWSLogsProbe: Probe {
    public static let name = "aws.logs"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let groups = context.strings("log_groups")
        guard !groups.isEmpty else { throw ProbeError("aws.logs needs log_groups") }
        let lookback = context.int("lookback_s") ?? 1800
        let pattern = context.string("filter_pattern") ?? "?ERROR ?Error ?error ?FATAL ?Exception ?exception"
        try await AWSCLI.run(context) { aws in
            var miner = SignatureMiner()
            for group in groups {
                let start = Int64((Date().timeIntervalSince1970 - Double(lookback)) * 1000)
                let answer = try await aws.call(["logs", "filter-log-events", "--log-group-name", group, "--start-time", String(start), "--filter-pattern", pattern, "--max-items", "5000"])
                for event in answer["events"] as? [[String: Any]] ?? [] {
                    miner.linesSeen += 1
                    guard let message = event["message"] as? String else { continue }
                    let time = (event["timestamp"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue / 1000) }
                    miner.add(message, at: time, source: group)
                }
            }
            guard miner.totalErrors > 0 else {
                await context.report(FindingDraft(code: .awsOK, severity: .ok, target: groups.joined(separator: ", "), title: "No error events in \(groups.joined(separator: ", ")) in the last \(lookback / 60) min"))
                return
            }
            for signature in miner.top.prefix(context.int("top") ?? 5) {
                let tags = SignatureMiner.causes(signature.template + " " + signature.example)
                await context.report(FindingDraft(
                    code: .awsLogErrors, severity: tags.isEmpty ? .medium : .high, target: signature.sources.sorted().joined(separator: ", "),
                    title: "\(signature.count)× \(signature.template.prefix(140))",
                    detail: "CloudWatch Logs events matching \(pattern).",
                    evidence: [.text("example", signature.example), .table("occurrences", columns: ["count", "first seen", "last seen", "sources"], rows: [[
                        String(signature.count), signature.first.map(JSONCoding.format) ?? "", signature.last.map(JSONCoding.format) ?? "", signature.sources.sorted().joined(separator: ", "),
                    ]])],
                    remediation: "Open the log group around the first-seen time to see what started it.",
                    tags: tags
                ))
            }
        }
    }
}
