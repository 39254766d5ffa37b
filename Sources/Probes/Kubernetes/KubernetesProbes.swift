import DiagnosisModel
import Foundation

/// Runs a Kubernetes probe body with an open kubectl, closing it afterwards.
func withKubectl(_ context: ProbeContext, _ body: (Kubectl) async throws -> Void) async throws {
    let kubectl = try Kubectl.open(context)
    defer { kubectl.close() }
    try await body(kubectl)
}

/// `k8s.workloads`: pods (crash loops, OOM kills, image pulls, unschedulable) and deployments,
/// statefulsets and daemonsets (unavailable replicas, stuck rollouts).
public struct KubernetesWorkloadsProbe: Probe {
    public static let name = "k8s.workloads"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await withKubectl(context) { kubectl in
            var problems = 0
            var podCount = 0
            for namespace in kubectl.namespaces {
                let pods = try await kubectl.items("pods", namespace: namespace)
                podCount += pods.count
                problems += try await analyzePods(pods, namespace: namespace, kubectl: kubectl)
                for kind in ["deployments", "statefulsets", "daemonsets"] {
                    problems += await analyzeControllers(try await kubectl.items(kind, namespace: namespace), kind: kind, namespace: namespace)
                }
            }
            if problems == 0 {
                await context.report(FindingDraft(code: .k8sOK, severity: .ok, target: kubectl.namespaces.joined(separator: ","),
                                                  title: "\(podCount) pod(s) and their controllers healthy in \(kubectl.namespaces.joined(separator: ", "))"))
            }
        }

        func analyzePods(_ pods: [[String: Any]], namespace: String, kubectl: Kubectl) async throws -> Int {
            var problems = 0
            for pod in pods {
                let status = pod.map("status")
                let target = "\(namespace)/\(pod.name)"
                for container in status.list("containerStatuses") {
                    let containerName = container.string("name") ?? "?"
                    let waiting = container.map("state").map("waiting")
                    let last = container.map("lastState").map("terminated")
                    let restarts = container.int("restartCount") ?? 0
                    let lastReason = last.string("reason") ?? ""
                    let exitCode = last.int("exitCode").map(String.init) ?? "?"
                    let stateRow = [pod.name, containerName, waiting.string("reason") ?? "running", String(restarts), lastReason, exitCode, last.string("finishedAt") ?? ""]
                    let table = Evidence.table("container", columns: ["pod", "container", "state", "restarts", "last termination", "exit code", "finished"], rows: [stateRow])
                    if lastReason == "OOMKilled" {
                        problems += 1
                        let limit = (pod.map("spec").list("containers").first { $0.string("name") == containerName }?.map("resources").map("limits").string("memory")) ?? "none"
                        await context.report(FindingDraft(
                            code: .k8sOOMKilled, severity: .high, target: target,
                            title: "\(target): container \(containerName) was OOMKilled (memory limit \(limit), \(restarts) restarts)",
                            detail: "The container used more memory than its limit and the kernel killed it.",
                            evidence: [table],
                            remediation: "Raise the memory limit of \(containerName) (now \(limit)) or reduce its usage; for the JVM keep -Xmx well below the limit.",
                            tags: ["oom"]
                        ))
                    }
                    if waiting.string("reason") == "CrashLoopBackOff" {
                        problems += 1
                        let logs = (try? await kubectl.run(["logs", pod.name, "-n", namespace, "-c", containerName, "--previous", "--tail=\(context.int("log_lines") ?? 20)"]))?.stdoutText ?? ""
                        let tags = SignatureMiner.causes(logs + " " + lastReason)
                        await context.report(FindingDraft(
                            code: .k8sCrashloop, severity: .high, target: target,
                            title: "\(target): \(containerName) is crash-looping (\(restarts) restarts, last exit \(exitCode)\(lastReason.isEmpty ? "" : " \(lastReason)"))",
                            detail: logs.isEmpty ? "The container keeps exiting." : "The previous container's last log lines say why it exits.",
                            evidence: [table] + (logs.isEmpty ? [] : [.text("previous container log (tail)", String(logs.suffix(4000)))]),
                            remediation: "kubectl logs \(pod.name) -n \(namespace) -c \(containerName) --previous; fix what makes it exit (config, a dependency, memory).",
                            tags: tags
                        ))
                    }
                    if ["ImagePullBackOff", "ErrImagePull", "InvalidImageName"].contains(waiting.string("reason") ?? "") {
                        problems += 1
                        await context.report(FindingDraft(
                            code: .k8sImagePull, severity: .high, target: target,
                            title: "\(target): cannot pull the image of \(containerName) (\(waiting.string("reason") ?? ""))",
                            detail: waiting.string("message") ?? "", evidence: [table, .text("image", container.string("image") ?? "")],
                            remediation: "Check the image name and tag exist and the pull secret/registry credentials."
                        ))
                    }
                }
                if status.string("phase") == "Pending",
                   let scheduled = status.list("conditions").first(where: { $0.string("type") == "PodScheduled" }), scheduled.string("status") == "False" {
                    problems += 1
                    await context.report(FindingDraft(
                        code: .k8sUnschedulable, severity: .high, target: target,
                        title: "\(target) cannot be scheduled: \(scheduled.string("reason") ?? "")",
                        detail: scheduled.string("message") ?? "", evidence: [.text("scheduler", scheduled.string("message") ?? "")],
                        remediation: "Free or add capacity matching the pod's requests, node selectors, affinity and taints."
                    ))
                }
            }
            return problems
        }

        func analyzeControllers(_ items: [[String: Any]], kind: String, namespace: String) async -> Int {
            var problems = 0
            for item in items {
                let spec = item.map("spec")
                let status = item.map("status")
                let desired: Int
                let ready: Int
                switch kind {
                case "daemonsets":
                    desired = status.int("desiredNumberScheduled") ?? 0
                    ready = status.int("numberAvailable") ?? 0
                case "statefulsets":
                    desired = spec.int("replicas") ?? 1
                    ready = status.int("readyReplicas") ?? 0
                default:
                    desired = spec.int("replicas") ?? 1
                    ready = status.int("availableReplicas") ?? 0
                }
                let stuck = status.list("conditions").first { $0.string("type") == "Progressing" && $0.string("reason") == "ProgressDeadlineExceeded" }
                guard ready < desired || stuck != nil else { continue }
                problems += 1
                let target = "\(namespace)/\(item.name)"
                await context.report(FindingDraft(
                    code: .k8sDeploymentUnavailable, severity: ready == 0 && desired > 0 ? .critical : .high, target: target,
                    title: stuck != nil ? "\(kind.dropLast()) \(target): rollout is stuck (ProgressDeadlineExceeded)" : "\(kind.dropLast()) \(target): \(ready)/\(desired) replicas available",
                    detail: stuck?.string("message") ?? "Fewer replicas are available than desired; the service runs with reduced or no capacity.",
                    evidence: [.table(String(kind.dropLast()), columns: ["name", "desired", "available", "updated"], rows: [[item.name, String(desired), String(ready), String(status.int("updatedReplicas") ?? 0)]])],
                    remediation: "kubectl describe \(kind.dropLast()) \(item.name) -n \(namespace); look at the pods' findings; kubectl rollout undo if a new version broke it."
                ))
            }
            return problems
        }
    }
}

/// `k8s.nodes`: nodes that are NotReady or under memory, disk or PID pressure.
public struct KubernetesNodesProbe: Probe {
    public static let name = "k8s.nodes"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await withKubectl(context) { kubectl in
            let nodes = try await kubectl.items("nodes", namespace: nil)
            var problems = 0
            for node in nodes {
                let conditions = node.map("status").list("conditions")
                let ready = conditions.first { $0.string("type") == "Ready" }
                let rows = conditions.map { [$0.string("type") ?? "", $0.string("status") ?? "", $0.string("reason") ?? "", $0.string("lastTransitionTime") ?? ""] }
                let table = Evidence.table("conditions of \(node.name)", columns: ["condition", "status", "reason", "since"], rows: rows)
                if ready?.string("status") != "True" {
                    problems += 1
                    await context.report(FindingDraft(
                        code: .k8sNodeNotReady, severity: .critical, target: node.name,
                        title: "Node \(node.name) is NotReady (\(ready?.string("reason") ?? "no Ready condition"))",
                        detail: ready?.string("message") ?? "", evidence: [table],
                        remediation: "kubectl describe node \(node.name); check the kubelet and the machine; cordon and drain it if it does not come back.",
                        tags: ["unavailable"]
                    ))
                }
                for pressure in ["MemoryPressure", "DiskPressure", "PIDPressure"] where conditions.contains(where: { $0.string("type") == pressure && $0.string("status") == "True" }) {
                    problems += 1
                    await context.report(FindingDraft(
                        code: .k8sNodePressure, severity: .high, target: node.name,
                        title: "Node \(node.name) reports \(pressure)", evidence: [table],
                        remediation: "The kubelet evicts pods under \(pressure); free the resource or add nodes.",
                        tags: pressure == "MemoryPressure" ? ["oom"] : (pressure == "DiskPressure" ? ["disk_full"] : [])
                    ))
                }
            }
            if problems == 0 {
                await context.report(FindingDraft(code: .k8sOK, severity: .ok, target: "nodes", title: "All \(nodes.count) node(s) Ready without pressure"))
            }
        }
    }
}

/// `k8s.services`: services with a selector but no ready endpoints.
public struct KubernetesServicesProbe: Probe {
    public static let name = "k8s.services"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await withKubectl(context) { kubectl in
            var problems = 0
            var count = 0
            for namespace in kubectl.namespaces {
                let services = try await kubectl.items("services", namespace: namespace)
                let endpoints = try await kubectl.items("endpoints", namespace: namespace)
                for service in services where !(service.map("spec").map("selector").isEmpty) {
                    count += 1
                    let subsets = endpoints.first { $0.name == service.name }?.list("subsets") ?? []
                    let ready = subsets.reduce(0) { $0 + $1.list("addresses").count }
                    let notReady = subsets.reduce(0) { $0 + $1.list("notReadyAddresses").count }
                    guard ready == 0 else { continue }
                    problems += 1
                    let selector = service.map("spec").map("selector").map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ",")
                    await context.report(FindingDraft(
                        code: .k8sServiceNoEndpoints, severity: .high, target: "\(namespace)/\(service.name)",
                        title: "Service \(namespace)/\(service.name) has no ready endpoints (\(notReady) not ready)",
                        detail: "Traffic to the service fails: no pod matching \(selector) is ready.",
                        evidence: [.table("service", columns: ["service", "selector", "ready", "not ready"], rows: [[service.name, selector, String(ready), String(notReady)]])],
                        remediation: "kubectl get pods -n \(namespace) -l \(selector): are they running and passing readiness probes? Does the selector match their labels?",
                        tags: ["upstream"]
                    ))
                }
            }
            if problems == 0 {
                await context.report(FindingDraft(code: .k8sOK, severity: .ok, target: kubectl.namespaces.joined(separator: ","), title: "\(count) service(s) have ready endpoints"))
            }
        }
    }
}

/// `k8s.storage`: persistent volume claims stuck in Pending.
public struct KubernetesStorageProbe: Probe {
    public static let name = "k8s.storage"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await withKubectl(context) { kubectl in
            var pending: [[String]] = []
            for namespace in kubectl.namespaces {
                for claim in try await kubectl.items("persistentvolumeclaims", namespace: namespace) where claim.map("status").string("phase") == "Pending" {
                    pending.append(["\(namespace)/\(claim.name)", claim.map("spec").string("storageClassName") ?? "", claim.map("spec").map("resources").map("requests").string("storage") ?? ""])
                }
            }
            if pending.isEmpty {
                await context.report(FindingDraft(code: .k8sOK, severity: .ok, target: kubectl.namespaces.joined(separator: ","), title: "No pending volume claims"))
            } else {
                await context.report(FindingDraft(
                    code: .k8sPVCPending, severity: .high, target: pending.map { $0[0] }.joined(separator: ", "),
                    title: "\(pending.count) volume claim(s) Pending", detail: "Pods using them cannot start.",
                    evidence: [.table("pending claims", columns: ["claim", "storage class", "size"], rows: pending)],
                    remediation: "kubectl describe pvc: check the storage class exists and its provisioner works, and quotas."
                ))
            }
        }
    }
}

/// `k8s.jobs`: jobs that failed.
public struct KubernetesJobsProbe: Probe {
    public static let name = "k8s.jobs"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await withKubectl(context) { kubectl in
            var failed: [[String]] = []
            for namespace in kubectl.namespaces {
                for job in try await kubectl.items("jobs", namespace: namespace) {
                    let condition = job.map("status").list("conditions").first { $0.string("type") == "Failed" && $0.string("status") == "True" }
                    guard let condition else { continue }
                    failed.append(["\(namespace)/\(job.name)", condition.string("reason") ?? "", condition.string("message") ?? "", String(job.map("status").int("failed") ?? 0)])
                }
            }
            if failed.isEmpty {
                await context.report(FindingDraft(code: .k8sOK, severity: .ok, target: kubectl.namespaces.joined(separator: ","), title: "No failed jobs"))
            } else {
                await context.report(FindingDraft(
                    code: .k8sJobFailed, severity: .medium, target: failed.map { $0[0] }.joined(separator: ", "),
                    title: "\(failed.count) job(s) failed", evidence: [.table("failed jobs", columns: ["job", "reason", "message", "failed pods"], rows: failed)],
                    remediation: "kubectl logs job/<name> -n <namespace> for the last attempt."
                ))
            }
        }
    }
}

/// `k8s.events`: Warning events, aggregated by reason and object.
public struct KubernetesEventsProbe: Probe {
    public static let name = "k8s.events"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        try await withKubectl(context) { kubectl in
            var groups: [String: (reason: String, object: String, count: Int, message: String, last: String)] = [:]
            for namespace in kubectl.namespaces {
                for event in try await kubectl.items("events", namespace: namespace) where event.string("type") == "Warning" {
                    let involved = event.map("involvedObject")
                    let object = "\(involved.string("kind") ?? "")/\(namespace)/\(involved.string("name") ?? "")"
                    let reason = event.string("reason") ?? "?"
                    let key = "\(reason)|\(object)"
                    var entry = groups[key] ?? (reason, object, 0, event.string("message") ?? "", "")
                    entry.count += event.int("count") ?? 1
                    entry.last = event.string("lastTimestamp") ?? entry.last
                    groups[key] = entry
                }
            }
            let top = groups.values.sorted { ($0.count, $0.object) > ($1.count, $1.object) }
            guard !top.isEmpty else {
                await context.report(FindingDraft(code: .k8sOK, severity: .ok, target: kubectl.namespaces.joined(separator: ","), title: "No Warning events"))
                return
            }
            let text = top.map(\.message).joined(separator: " ")
            await context.report(FindingDraft(
                code: .k8sWarningEvents, severity: .medium, target: kubectl.namespaces.joined(separator: ","),
                title: "\(top.reduce(0) { $0 + $1.count }) Warning events: " + top.prefix(3).map { "\($0.reason) on \($0.object) ×\($0.count)" }.joined(separator: ", "),
                evidence: [.table("warning events", columns: ["reason", "object", "count", "last", "message"], rows: top.prefix(20).map { [$0.reason, $0.object, String($0.count), $0.last, String($0.message.prefix(200))] })],
                remediation: "The events name the failing objects; see their own findings.",
                tags: SignatureMiner.causes(text)
            ))
        }
    }
}
