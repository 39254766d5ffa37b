import Foundation
import TestSupport
import Testing

/// Runners as Kubernetes Jobs (`runners.launcher: kubernetes`), against the suite's Kubernetes API
/// stand-in (`Tests/Fixtures/k8s_standin.py`) — no Kubernetes can run here. It accepts and
/// deletes real `batch/v1` Job objects and, standing in for the kubelet, starts the real
/// `sre-diagnose-runner` from the Job's pod template (command, args, env only), which connects
/// back to the real daemon over TCP with TLS.
@Suite(.serialized) struct KubernetesLauncherTests {
    final class Setup: @unchecked Sendable {
        let directory: TemporaryDirectory
        let apiserver: ChildProcess
        let daemon: DaemonProcess
        let token = "k8s-token-\(UUID().uuidString.prefix(8))"
        static let credential = "db-password-\(UUID().uuidString.prefix(8))"

        /// `kubeconfig`: the daemon finds the API through a kubeconfig (embedded CA, token, the
        /// context's namespace) instead of api_url/token_file/ca_file.
        /// `serverCertificate`: the stand-in's certificate (make_certs.py), `valid` being the one
        /// the cluster CA signed.
        init(kubeconfig: Bool = false, serverCertificate: String = "valid") throws {
            directory = try TestEnvironment.makeTemporaryDirectory("k8sjobs")
            let certificates = try ChildProcess("/usr/bin/env", ["python3", TestEnvironment.fixture("make_certs.py"), directory.path], directory: directory, name: "certs")
            guard certificates.wait() == 0 else { throw TestHTTPError.io("certificates: \(certificates.stderr)") }
            apiserver = try ChildProcess(
                "/usr/bin/python3",
                [TestEnvironment.fixture("k8s_standin.py"), "healthy", directory.file("port"), token, directory.file("requests.jsonl"), directory.file("\(serverCertificate).pem"), directory.file("\(serverCertificate).key")],
                directory: directory, name: "apiserver"
            )
            let directory = self.directory
            guard TestEnvironment.waitUntil({ FileManager.default.fileExists(atPath: directory.file("port")) }) else { throw TestHTTPError.connect("stand-in did not start") }
            let apiPort = try String(contentsOfFile: directory.file("port"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let tokenFile = try directory.write("sa.token", token, mode: 0o600)
            let approver = try directory.write("alice.token", SessionAPITests.approverToken, mode: 0o600)
            let endpointPort = try TestEnvironment.freePort()
            let ca = try Data(contentsOf: URL(fileURLWithPath: directory.file("ca.pem"))).base64EncodedString()
            let kubeconfigFile = try directory.write("kubeconfig", """
                apiVersion: v1
                kind: Config
                clusters: [{name: standin, cluster: {server: "https://localhost:\(apiPort)", certificate-authority-data: "\(ca)"}}]
                users: [{name: sre, user: {token: \(token)}}]
                contexts: [{name: standin, context: {cluster: standin, user: sre, namespace: diagnose}}]
                current-context: standin
                """, mode: 0o600)
            let api = kubeconfig
                ? "kubeconfig: \"\(kubeconfigFile)\""
                : "api_url: \"https://localhost:\(apiPort)\", token_file: \"\(tokenFile)\", ca_file: \"\(directory.file("ca.pem"))\", namespace: diagnose"
            let config = """
                approval: {timeout: 10m}
                secrets: {allow_env_refs: true}
                auth:
                  approvers: [{name: alice, token: "file://\(approver)"}]
                  unix_socket_approver_group: sre-test-approvers-none
                runners:
                  launcher: kubernetes
                  endpoint: {listen: "127.0.0.1:\(endpointPort)", advertise: "tls://localhost:\(endpointPort)", certificate: "\(directory.file("valid.pem"))", key: "\(directory.file("valid.key"))", ca_file: "\(directory.file("ca.pem"))"}
                  kubernetes: {\(api), image: registry.example/sre-diagnose:test, command: ["\(TestEnvironment.binary("sre-diagnose-runner"))"], service_account: sre-diagnose-runner, cpu: 100m, memory: 128Mi, ttl_after_finished: 2m}
                environments:
                  prod:
                    checks:
                      - {name: a, domain: database, command: sh, args: ["-c", "test \\"$X\\" = \(Self.credential)"], credential: "env://DB_PASSWORD", env: {value: X}}
                      - {name: b, domain: cloud, command: sh, args: ["-c", "exit 0"]}
                  slow:
                    checks:
                      - {name: s, domain: host, command: sh, args: ["-c", "sleep 60"]}
                """
            daemon = try DaemonProcess(config: config, environment: ["DB_PASSWORD": Self.credential])
        }

        var jobs: [[String: Any]] {
            let text = (try? String(contentsOfFile: directory.file("requests.jsonl.jobs"), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        /// The token Secrets, as created.
        var secrets: [[String: Any]] {
            let text = (try? String(contentsOfFile: directory.file("requests.jsonl.secrets"), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        var requests: [[String: Any]] {
            let text = (try? String(contentsOfFile: directory.file("requests.jsonl"), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        func cleanUp() {
            daemon.cleanUp()
            apiserver.stop()
            directory.remove()
        }
    }

    /// The API server is verified against the cluster's CA: one whose certificate that CA did
    /// not sign never receives the service account's token (no request reaches it), and the
    /// domains fail saying why.
    @Test func anAPIServerTheClusterCADidNotSignNeverSeesTheToken() throws {
        let setup = try Setup(serverCertificate: "selfsigned")
        defer { setup.cleanUp() }
        let daemon = setup.daemon
        let id = try #require(try daemon.post("/diagnose", ["problem": "checkout errors", "environment": "prod"]).json["session_id"] as? String)
        let status = try SessionAPITests.waitForStatus(daemon, id) { $0 == "awaiting_approval" }
        let requestID = try #require((status["pending_approval"] as? [String: Any])?["request_id"] as? String)
        #expect(try daemon.post("/approve/\(id)", ["approved": true, "request_id": requestID], headers: ApprovalTests.bearer).status == 200)
        _ = try SessionAPITests.waitForStatus(daemon, id, timeout: 60) { ["completed", "failed"].contains($0) }
        let domains = try ApprovalTests.domains(daemon, id)
        for domain in ["database", "cloud"] {
            #expect(domains[domain]?["outcome"] as? String == "failed", "\(domains)")
            #expect((domains[domain]?["reason"] as? String ?? "").contains("TLS failed"), "\(domains)")
        }
        #expect(setup.requests.isEmpty, "no request (and so no token) reached the untrusted server: \(setup.requests)")
    }

    @Test func eachDomainRunsAsAJobThatConnectsBackOverTLS() throws {
        let setup = try Setup()
        defer { setup.cleanUp() }
        let daemon = setup.daemon
        let accepted = try daemon.post("/diagnose", ["problem": "checkout errors", "environment": "prod"])
        let id = try #require(accepted.json["session_id"] as? String)
        let status = try SessionAPITests.waitForStatus(daemon, id) { $0 == "awaiting_approval" }
        let requestID = try #require((status["pending_approval"] as? [String: Any])?["request_id"] as? String)
        #expect(try daemon.post("/approve/\(id)", ["approved": true, "request_id": requestID], headers: ApprovalTests.bearer).status == 200)
        _ = try SessionAPITests.waitForStatus(daemon, id, timeout: 60) { $0 == "completed" }
        let domains = try ApprovalTests.domains(daemon, id)
        #expect(domains["database"]?["outcome"] as? String == "ok", "the credential reached the probe in the pod through the job frame: \(domains)")
        #expect(domains["cloud"]?["outcome"] as? String == "ok")

        let jobs = setup.jobs
        #expect(jobs.count == 2, "one Job per domain")
        let raw = (try? String(contentsOfFile: setup.directory.file("requests.jsonl.jobs"), encoding: .utf8)) ?? ""
        #expect(!raw.contains(Setup.credential), "no credential in any Job spec, env or annotation")
        for job in jobs {
            let metadata = job["metadata"] as? [String: Any] ?? [:]
            let labels = metadata["labels"] as? [String: String] ?? [:]
            #expect(labels["sre-diagnose/session"] == id)
            #expect(["database", "cloud"].contains(labels["sre-diagnose/domain"] ?? ""))
            #expect(labels["app.kubernetes.io/managed-by"] == "sre-diagnosed")
            let spec = job["spec"] as? [String: Any] ?? [:]
            #expect(spec["backoffLimit"] as? Int == 0)
            #expect((spec["activeDeadlineSeconds"] as? Int ?? 0) > 0)
            #expect(spec["ttlSecondsAfterFinished"] as? Int == 120)
            let pod = (spec["template"] as? [String: Any])?["spec"] as? [String: Any] ?? [:]
            #expect(pod["serviceAccountName"] as? String == "sre-diagnose-runner")
            #expect(pod["automountServiceAccountToken"] as? Bool == false)
            #expect(pod["restartPolicy"] as? String == "Never")
            let container = (pod["containers"] as? [[String: Any]])?.first ?? [:]
            #expect(container["image"] as? String == "registry.example/sre-diagnose:test")
            let entries = (container["env"] as? [[String: Any]]) ?? []
            let env = Dictionary(entries.compactMap { entry in (entry["name"] as? String).map { ($0, entry["value"] as? String ?? "") } }, uniquingKeysWith: { $1 })
            #expect(env["SRE_RUNNER_SOCKET"]?.hasPrefix("tls://localhost:") == true)
            #expect(env["SRE_RUNNER_CA"]?.contains("BEGIN CERTIFICATE") == true)
            #expect(env.keys.allSatisfy { $0.hasPrefix("SRE_RUNNER_") }, "only how to reach the daemon: \(env.keys.sorted())")
            // The one-time token: from the runner's own Secret, which the Job owns.
            let tokenSource = entries.first { $0["name"] as? String == "SRE_RUNNER_TOKEN" }?["valueFrom"] as? [String: Any]
            let reference = tokenSource?["secretKeyRef"] as? [String: String]
            #expect(reference == ["name": metadata["name"] as? String ?? "?", "key": "token"], "\(entries)")
            #expect(env["SRE_RUNNER_TOKEN"] == "", "no token value in the Job")
            let security = container["securityContext"] as? [String: Any] ?? [:]
            #expect(security["runAsNonRoot"] as? Bool == true && security["allowPrivilegeEscalation"] as? Bool == false)
            #expect(((container["resources"] as? [String: Any])?["limits"] as? [String: String])?["memory"] == "128Mi")
        }
        let secrets = setup.secrets
        #expect(secrets.count == 2, "one token Secret per Job")
        let tokens = secrets.compactMap { ($0["stringData"] as? [String: String])?["token"] }
        #expect(tokens.count == 2 && tokens.allSatisfy { !raw.contains($0) }, "the tokens are in the Secrets, nowhere in a Job")
        for secret in secrets {
            let name = ((secret["metadata"] as? [String: Any])?["name"] as? String) ?? "?"
            #expect(secret["type"] as? String == "Opaque")
            // Owned by its Job (Kubernetes deletes it with the Job), and deleted once the runner ended.
            #expect(setup.requests.contains { $0["method"] as? String == "PATCH" && $0["path"] as? String == "/api/v1/namespaces/diagnose/secrets/\(name)"
                && ($0["body"] as? String)?.contains("\"uid\":\"uid-\(name)\"") == true })
            #expect(TestEnvironment.waitUntil(timeout: 10) {
                setup.requests.contains { $0["method"] as? String == "DELETE" && $0["path"] as? String == "/api/v1/namespaces/diagnose/secrets/\(name)" }
            }, "the spent token's Secret is deleted")
        }
        // The API saw the service account's token (the stand-in refuses anything else) and the
        // Jobs are read until they finished (which frees their slots).
        #expect(TestEnvironment.waitUntil(timeout: 10) {
            setup.requests.contains { $0["method"] as? String == "GET" && ($0["path"] as? String)?.contains("/jobs/") == true }
        })
    }

    @Test func cancellingDeletesTheJob() throws {
        let setup = try Setup(kubeconfig: true)
        defer { setup.cleanUp() }
        let daemon = setup.daemon
        let id = try #require(try daemon.post("/diagnose", ["problem": "host is slow", "environment": "slow"]).json["session_id"] as? String)
        let started = TestEnvironment.waitUntil(timeout: 20) { setup.jobs.count == 1 && Self.runnerConnected(daemon, id) }
        #expect(started, "the Job was created and its runner connected: \(setup.jobs.count) job(s), \((try? daemon.get("/status/\(id)").text) ?? "")\n\(daemon.child.stderr)")
        let cancelled = try daemon.post("/sessions/\(id)/cancel", [:], headers: ApprovalTests.bearer)
        #expect(cancelled.status == 200, "\(cancelled.text)")
        let name = ((setup.jobs.first?["metadata"] as? [String: Any])?["name"] as? String) ?? "?"
        #expect(TestEnvironment.waitUntil(timeout: 20) {
            setup.requests.contains { $0["method"] as? String == "DELETE" && ($0["path"] as? String)?.contains("/jobs/\(name)") == true }
        }, "cancel deletes the Job")
        #expect(TestEnvironment.waitUntil(timeout: 20) {
            setup.requests.contains { $0["method"] as? String == "DELETE" && ($0["path"] as? String)?.hasSuffix("/secrets/\(name)") == true }
        }, "and its token's Secret")
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "cancelled" }
    }

    /// The runner's domain is running (it connected and got its job).
    static func runnerConnected(_ daemon: DaemonProcess, _ id: String) -> Bool {
        let status = (try? daemon.get("/status/\(id)").json) ?? [:]
        let domains = status["domains"] as? [[String: Any]] ?? []
        return domains.contains { $0["state"] as? String == "running" }
    }
}
