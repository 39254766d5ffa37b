@testable import Daemon
import DiagnosisModel
import Foundation
import Logging
import Testing

/// The Job a runner runs in, built without a cluster.
@Suite struct KubernetesJobTests {
    static func launcher() throws -> KubernetesRunnerLauncher {
        var settings = DaemonConfig.Runners.Kubernetes()
        settings.namespace = "sre"
        settings.image = "registry.internal/sre-diagnose:0.1.0"
        settings.serviceAccount = "runner"
        return KubernetesRunnerLauncher(
            api: try KubernetesAPI(server: "https://k8s:443", token: "t", caPEM: nil), settings: settings, endpoint: "tls://sre-diagnose-runners.sre.svc:32101",
            caPEM: "-----BEGIN CERTIFICATE-----\nMII…\n-----END CERTIFICATE-----\n", serverName: "sre-diagnose-runners.sre.svc", deadline: .seconds(60), logger: Logger(label: "test")
        )
    }

    @Test func theJobCarriesHowToReachTheDaemonAndNothingElse() throws {
        let request = RunnerLaunchRequest(
            runnerID: "0f8c2a1b-Database_7", token: "one-time-token", domain: .database, sessionID: "0f8c2a1b-5f0e-4c55-9d07-1b1f6f0e2c11",
            socketPath: "/run/sre-diagnose/runners/supervisor.sock", maxFrameBytes: 1 << 20
        )
        let launcher = try Self.launcher()
        let job = launcher.makeJob(request)
        #expect(job.metadata.name == "sre-runner-0f8c2a1b-database-7")
        #expect(job.metadata.namespace == "sre")
        #expect(job.metadata.labels["sre-diagnose/session"] == "0f8c2a1b-5f0e-4c55-9d07-1b1f6f0e2c11")
        #expect(job.metadata.labels["sre-diagnose/domain"] == "database")
        #expect(job.spec.template.metadata.labels == job.metadata.labels)
        #expect(job.spec.activeDeadlineSeconds == 90 && job.spec.backoffLimit == 0 && job.spec.ttlSecondsAfterFinished == 300)
        let container = try #require(job.spec.template.spec.containers.first)
        #expect(container.args == ["--runner-id", "0f8c2a1b-Database_7", "--domain", "database"])
        let env = Dictionary(uniqueKeysWithValues: container.env.map { ($0.name, $0) })
        #expect(env["SRE_RUNNER_SOCKET"]?.value == "tls://sre-diagnose-runners.sre.svc:32101", "not the daemon's local socket")
        #expect(env["SRE_RUNNER_SERVER_NAME"]?.value == "sre-diagnose-runners.sre.svc")
        // The token is read from the runner's Secret, not written in the Job.
        #expect(env["SRE_RUNNER_TOKEN"]?.value == nil)
        #expect(env["SRE_RUNNER_TOKEN"]?.valueFrom?.secretKeyRef == .init(name: job.metadata.name, key: "token"))
        let secret = launcher.makeSecret(request)
        #expect(secret.metadata == job.metadata && secret.stringData == ["token": "one-time-token"])
        let secretJSON = String(decoding: try JSONEncoder().encode(secret), as: UTF8.self)
        #expect(secretJSON.contains("\"kind\":\"Secret\"") && secretJSON.contains("\"type\":\"Opaque\""))
        #expect(job.spec.template.spec.automountServiceAccountToken == false)
        #expect(container.securityContext.readOnlyRootFilesystem && container.securityContext.capabilities.drop == ["ALL"])
        // Encodes as the API expects (camelCase keys, apiVersion/kind).
        let json = String(decoding: try JSONEncoder().encode(job), as: UTF8.self)
        #expect(json.contains("\"apiVersion\":\"batch\\/v1\"") && json.contains("\"ttlSecondsAfterFinished\":300"))
        #expect(!json.contains("one-time-token"), "whoever can read the Job must not learn the token")
    }

    @Test func namesAndLabelsAreValidKubernetesValues() {
        let long = String(repeating: "a", count: 80)
        #expect(KubernetesRunnerLauncher.jobName(long).count == 63)
        #expect(!KubernetesRunnerLauncher.jobName("x-").hasSuffix("-"))
        #expect(KubernetesRunnerLauncher.labelValue("a b/c") == "a-b-c")
        #expect(KubernetesRunnerLauncher.labelValue(long).count == 63)
    }

    @Test func kubeconfigCurrentContext() throws {
        let ca = Data("-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n".utf8).base64EncodedString()
        let config = try Kubeconfig.parse("""
            apiVersion: v1
            kind: Config
            clusters:
              - {name: other, cluster: {server: "https://other:6443"}}
              - {name: prod, cluster: {server: "https://k8s.internal:6443", certificate-authority-data: "\(ca)"}}
            users: [{name: sre, user: {token: abc}}, {name: files, user: {tokenFile: sa.token}}]
            contexts: [{name: prod, context: {cluster: prod, user: sre, namespace: diagnose}}]
            current-context: prod
            """, directory: "/etc/sre")
        #expect(config.server == "https://k8s.internal:6443" && config.token == "abc" && config.namespace == "diagnose")
        #expect(config.caPEM?.contains("BEGIN CERTIFICATE") == true && config.caFile == nil)
        #expect(throws: Kubeconfig.Problem.self) { try Kubeconfig.parse("current-context: none\ncontexts: []", directory: "/") }
        #expect(throws: Kubeconfig.Problem.self) {
            try Kubeconfig.parse("""
                clusters: [{name: c, cluster: {server: "https://k"}}]
                users: [{name: u, user: {exec: {command: aws}}}]
                contexts: [{name: x, context: {cluster: c, user: u}}]
                current-context: x
                """, directory: "/")
        }
    }
}
