import DiagnosisModel
import Foundation
import Logging
import RunnerProtocol

/// Runs each runner as a Kubernetes `batch/v1` Job, next to what it diagnoses (`runners.launcher:
/// kubernetes`). The runner connects back to the daemon's runner endpoint over TCP with TLS,
/// pinning the daemon's CA, and authenticates with its one-time token; its credentials arrive in
/// the job frame over that connection — never in the Job's spec, env or annotations. The token
/// itself is in a Secret the pod reads (`secretKeyRef`), not in the Job: whoever can read Jobs in
/// the namespace must not be able to present it before the runner does.
///
/// The Job's end is the runner's exit (polled once a second); a stop deletes the Job.
struct KubernetesRunnerLauncher: RunnerLauncher {
    let api: KubernetesAPI
    let settings: DaemonConfig.Runners.Kubernetes
    /// `tls://HOST:PORT` the runner dials, the daemon's CA (PEM) and certificate name.
    let endpoint: String
    let caPEM: String
    let serverName: String?
    let deadline: Duration
    let logger: Logger

    /// Returns at once; the Job is created in the background (a refusal by the API ends the
    /// runner with the API's reason).
    func launch(_ request: RunnerLaunchRequest, onExit: @escaping @Sendable (RunnerExit) -> Void) throws -> any LaunchedRunner {
        let job = makeJob(request)
        let runner = KubernetesRunner(name: job.metadata.name, namespace: job.metadata.namespace, api: api, logger: logger, onExit: onExit)
        runner.start(job, token: makeSecret(request))
        return runner
    }

    /// The Job for one runner: labelled with its session and domain, bounded by the runner
    /// deadline, cleaned up after it finishes.
    func makeJob(_ request: RunnerLaunchRequest) -> KubernetesJob {
        var labels = [
            "app.kubernetes.io/name": "sre-diagnose-runner",
            "app.kubernetes.io/managed-by": "sre-diagnosed",
        ]
        if let session = request.sessionID { labels["sre-diagnose/session"] = Self.labelValue(session) }
        if let domain = request.domain { labels["sre-diagnose/domain"] = domain.rawValue }
        var env = [
            KubernetesJob.EnvVar(name: RunnerEnvironment.socket, value: endpoint),
            KubernetesJob.EnvVar(name: RunnerEnvironment.token, secret: Self.jobName(request.runnerID), key: KubernetesSecret.tokenKey),
            KubernetesJob.EnvVar(name: RunnerEnvironment.runnerID, value: request.runnerID),
            KubernetesJob.EnvVar(name: RunnerEnvironment.maxFrameBytes, value: String(request.maxFrameBytes)),
            KubernetesJob.EnvVar(name: RunnerEnvironment.caPEM, value: caPEM),
        ]
        if let domain = request.domain { env.append(.init(name: RunnerEnvironment.domain, value: domain.rawValue)) }
        if let serverName { env.append(.init(name: RunnerEnvironment.serverName, value: serverName)) }
        let container = KubernetesJob.Container(
            image: settings.image, command: settings.command,
            args: ["--runner-id", request.runnerID] + (request.domain.map { ["--domain", $0.rawValue] } ?? []),
            env: env,
            resources: .init(requests: ["cpu": settings.cpu, "memory": settings.memory], limits: ["memory": settings.memory])
        )
        return KubernetesJob(
            metadata: .init(name: Self.jobName(request.runnerID), namespace: settings.namespace, labels: labels),
            spec: .init(
                // The daemon kills a runner at its deadline; the Job's own limit is the backstop.
                activeDeadlineSeconds: Int(deadline.components.seconds) + 30,
                ttlSecondsAfterFinished: Int(settings.ttlAfterFinished.components.seconds),
                template: .init(metadata: .init(labels: labels), spec: .init(serviceAccountName: settings.serviceAccount, containers: [container]))
            )
        )
    }

    /// The Secret with the runner's token: named and labelled as its Job.
    func makeSecret(_ request: RunnerLaunchRequest) -> KubernetesSecret {
        let job = makeJob(request)
        return KubernetesSecret(metadata: job.metadata, stringData: [KubernetesSecret.tokenKey: request.token])
    }

    /// A DNS-1123 name: `sre-runner-` and the runner id, lower case, at most 63 characters.
    static func jobName(_ runnerID: String) -> String {
        let cleaned = String(runnerID.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
        let name = "sre-runner-" + cleaned
        return String(name.prefix(63)).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
    }

    /// A label value: at most 63 characters of `[A-Za-z0-9._-]`.
    static func labelValue(_ text: String) -> String {
        String(String(text.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "-" }).prefix(63))
    }
}

/// A runner's Job: watched until it ends (then `onExit`, once), deleted to stop it — also when
/// the stop comes while the Job is still being created.
final class KubernetesRunner: LaunchedRunner, @unchecked Sendable {
    let name: String
    let namespace: String
    let api: KubernetesAPI
    let logger: Logger
    private let onExit: @Sendable (RunnerExit) -> Void
    private let lock = NSLock()
    private var created = false
    private var stopSignal: Int32?
    private var exited = false

    init(name: String, namespace: String, api: KubernetesAPI, logger: Logger, onExit: @escaping @Sendable (RunnerExit) -> Void) {
        self.name = name
        self.namespace = namespace
        self.api = api
        self.logger = logger
        self.onExit = onExit
    }

    /// A pod elsewhere: no pid to check the connection against; the token and TLS vouch.
    var expectedPeerPID: Int32? { nil }

    /// Any stop deletes the Job (Kubernetes sends the pod SIGTERM, then SIGKILL).
    func signal(_ signal: Int32) {
        let deleteNow = lock.withLock { () -> Bool in
            guard stopSignal == nil else { return false }
            stopSignal = signal
            return created
        }
        if deleteNow { Task { await delete(signal) } }
    }

    /// Cancel deletes the Job: Kubernetes gives the pod SIGTERM (the runner stops its probes
    /// and says so), then SIGKILL after the pod's grace period.
    func cancelled() { signal(SIGTERM) }

    /// The token's Secret first (the pod cannot start without it), then the Job, then the Job is
    /// made the Secret's owner.
    func start(_ job: KubernetesJob, token secret: KubernetesSecret) {
        Task {
            do {
                try await api.createSecret(secret)
            } catch {
                exit(.failedToStart("cannot create Secret \(namespace)/\(name) for the runner's token: \(error)"))
                return
            }
            let uid: String?
            do {
                uid = try await api.createJob(job)
            } catch {
                exit(.failedToStart("cannot create Job \(namespace)/\(name): \(error)"))
                return
            }
            if let uid {
                do {
                    try await api.setOwner(ofSecret: name, namespace: namespace, job: name, uid: uid)
                } catch {
                    logger.warning("cannot make Job \(namespace)/\(name) the owner of its token's Secret (it is deleted when the runner ends): \(error)")
                }
            }
            let pendingStop = lock.withLock { () -> Int32? in
                created = true
                return stopSignal
            }
            if let pendingStop {
                await delete(pendingStop)
            } else {
                await watch()
            }
        }
    }

    private func delete(_ signal: Int32) async {
        do {
            try await api.deleteJob(name, namespace: namespace)
        } catch {
            logger.warning("cannot delete runner job \(namespace)/\(name): \(error)")
        }
        exit(.signaled(signal))
    }

    private func watch() async {
        while !lock.withLock({ exited || stopSignal != nil }) {
            try? await Task.sleep(for: .seconds(1))
            do {
                guard let job = try await api.job(name, namespace: namespace) else {
                    exit(.signaled(SIGKILL))
                    return
                }
                let status = job.objectValue?["status"]?.objectValue
                if (status?["succeeded"]?.doubleValue ?? 0) >= 1 { exit(.exited(0)) }
                if (status?["failed"]?.doubleValue ?? 0) >= 1 { exit(.exited(1)) }
            } catch {
                logger.warning("cannot read runner job \(namespace)/\(name): \(error)")
            }
        }
    }

    /// Reports the end once, and deletes the token's Secret (spent, or never to be used).
    private func exit(_ status: RunnerExit) {
        let first = lock.withLock { () -> Bool in
            defer { exited = true }
            return !exited
        }
        guard first else { return }
        onExit(status)
        Task {
            do {
                try await api.deleteSecret(name, namespace: namespace)
            } catch {
                logger.warning("cannot delete the token Secret \(namespace)/\(name): \(error)")
            }
        }
    }
}
