import DiagnosisModel
import Foundation
import Probes
import TestSupport
import Testing

/// Kubernetes probes through the real kubectl against a read-only API-server stand-in (no
/// Kubernetes can run here) that serves discovery and the resources in real JSON shape over TLS.
@Suite struct KubernetesProbeTests {
    final class Cluster: @unchecked Sendable {
        let directory: TemporaryDirectory
        let server: ChildProcess
        let kubeconfig: String
        let token = "k8s-token-\(UUID().uuidString.prefix(8))"

        init(_ scenario: String) throws {
            directory = try TestEnvironment.makeTemporaryDirectory("k8s")
            let certificates = try ChildProcess("/usr/bin/env", ["python3", TestEnvironment.fixture("make_certs.py"), directory.path], directory: directory, name: "certs")
            guard certificates.wait() == 0 else { throw TestHTTPError.io("certificates: \(certificates.stderr)") }
            server = try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture("k8s_standin.py"), scenario, directory.file("port"), token, directory.file("requests.jsonl"), directory.file("valid.pem"), directory.file("valid.key")], directory: directory, name: "apiserver")
            let directory = self.directory
            guard TestEnvironment.waitUntil({ FileManager.default.fileExists(atPath: directory.file("port")) }) else { throw TestHTTPError.connect("stand-in did not start") }
            let port = try String(contentsOfFile: directory.file("port"), encoding: .utf8)
            let ca = try Data(contentsOf: URL(fileURLWithPath: directory.file("ca.pem"))).base64EncodedString()
            kubeconfig = """
                apiVersion: v1
                kind: Config
                clusters: [{name: standin, cluster: {server: "https://localhost:\(port)", certificate-authority-data: "\(ca)"}}]
                users: [{name: sre, user: {token: \(token)}}]
                contexts: [{name: standin, context: {cluster: standin, user: sre}}]
                current-context: standin
                """
        }

        var credential: [String: String] { ["kubeconfig": kubeconfig] }

        func run(_ probe: any Probe, namespaces: [String] = ["api"]) async -> ProbeRun {
            await ProbeHarness.run(probe, target: namespaces.joined(separator: ","), params: ["namespaces": .array(namespaces.map(JSONValue.string))], credential: credential)
        }

        func stop() {
            server.stop()
            directory.remove()
        }
    }

    @Test func everyAnalyzerFindsItsFault() async throws {
        let cluster = try Cluster("broken")
        defer { cluster.stop() }
        let workloads = await cluster.run(KubernetesWorkloadsProbe())
        #expect(workloads.error == nil, "\(String(describing: workloads.error))")
        #expect(Set(workloads.codes) == ["k8s.oomkilled", "k8s.crashloop", "k8s.image_pull", "k8s.unschedulable", "k8s.deployment_unavailable"], "\(workloads.codes)")
        let crash = try #require(workloads.first("k8s.crashloop"))
        #expect(crash.title.contains("14 restarts") && crash.title.contains("exit 137 OOMKilled"), "\(crash.title)")
        #expect(crash.evidence.contains { $0.label.contains("previous container log") && ($0.text ?? "").contains("too many clients") })
        #expect(crash.tags.contains("too_many_clients"))
        #expect(workloads.first("k8s.oomkilled")?.title.contains("memory limit 512Mi") == true)
        #expect(workloads.first("k8s.unschedulable")?.detail.contains("Insufficient memory") == true)
        #expect(workloads.first("k8s.deployment_unavailable")?.title.contains("ProgressDeadlineExceeded") == true)

        let nodes = await cluster.run(KubernetesNodesProbe())
        #expect(Set(nodes.codes) == ["k8s.node_not_ready", "k8s.node_pressure"], "\(nodes.codes)")
        #expect(nodes.first("k8s.node_not_ready")?.target == "node-2")
        #expect(await cluster.run(KubernetesServicesProbe()).codes == ["k8s.service_no_endpoints"])
        #expect(await cluster.run(KubernetesStorageProbe()).codes == ["k8s.pvc_pending"])
        #expect(await cluster.run(KubernetesJobsProbe()).codes == ["k8s.job_failed"])
        let events = await cluster.run(KubernetesEventsProbe())
        #expect(events.codes == ["k8s.warning_events"])
        #expect(events.first("k8s.warning_events")?.title.contains("BackOff on Pod/api/api-gateway-7d9f-abcde ×12") == true, "\(events.findings.map(\.title))")
        // The kubeconfig lived in a private file only while probes ran; read-only verbs only.
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("sre-runner-") } ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")
        let requests = try String(contentsOfFile: cluster.directory.file("requests.jsonl"), encoding: .utf8)
        #expect(!requests.contains("\"POST\"") && !requests.contains("\"DELETE\""))
    }

    /// A runner whose daemon dies removes its private files while its probes may still run: once
    /// removed, nothing new is created, so no kubeconfig is left behind in a directory made later.
    @Test func privateFilesAreRemovedAndNoneAreMadeOnceTheRunnerStops() throws {
        let parent = try TestEnvironment.makeTemporaryDirectory("private")
        defer { parent.remove() }
        let files = PrivateFiles(parent: parent.path)
        let open = try files.makeDirectory()
        try files.write(Data("apiVersion: v1".utf8), to: "\(open)/kubeconfig")
        let attributes = try FileManager.default.attributesOfItem(atPath: open)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        let fileAttributes = try FileManager.default.attributesOfItem(atPath: "\(open)/kubeconfig")
        #expect((fileAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let finished = try files.makeDirectory()
        files.remove(finished)
        #expect(!FileManager.default.fileExists(atPath: finished))

        files.removeAll()
        #expect(!FileManager.default.fileExists(atPath: open))
        #expect(throws: ProbeError.self) { _ = try files.makeDirectory() }
        #expect(throws: ProbeError.self) { try files.write(Data("late".utf8), to: parent.file("late")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
    }

    @Test func healthyClusterOnlyOk() async throws {
        let cluster = try Cluster("healthy")
        defer { cluster.stop() }
        for probe in [KubernetesWorkloadsProbe() as any Probe, KubernetesNodesProbe(), KubernetesServicesProbe(), KubernetesStorageProbe(), KubernetesJobsProbe(), KubernetesEventsProbe()] {
            let run = await cluster.run(probe)
            #expect(run.codes == ["k8s.ok"], "\(type(of: probe).name): \(run.codes) \(String(describing: run.error))")
        }
    }

    @Test func forbiddenUnreachableAndMissingKubectlAreClearErrors() async throws {
        let cluster = try Cluster("healthy")
        defer { cluster.stop() }
        let forbidden = await cluster.run(KubernetesWorkloadsProbe(), namespaces: ["forbidden"])
        #expect("\(String(describing: forbidden.error))".contains("forbidden: the credential may not read this"))
        let closed = try TestEnvironment.freePort()
        let unreachable = await ProbeHarness.run(KubernetesNodesProbe(), target: "cluster", params: [:], credential: ["kubeconfig": cluster.kubeconfig.replacingOccurrences(of: #"localhost:\d+"#, with: "localhost:\(closed)", options: .regularExpression)])
        #expect("\(String(describing: unreachable.error))".contains("cannot reach the Kubernetes API"))
        let wrongToken = await ProbeHarness.run(KubernetesNodesProbe(), target: "cluster", params: [:], credential: ["kubeconfig": cluster.kubeconfig.replacingOccurrences(of: cluster.token, with: "wrong")])
        #expect("\(String(describing: wrongToken.error))".contains("unauthorized"))
        let missing = await ProbeHarness.run(KubernetesNodesProbe(), target: "cluster", params: [:], credential: cluster.credential, tools: ToolRunner(baseEnvironment: ["PATH": "/nonexistent"]))
        #expect("\(String(describing: missing.error))".contains("kubectl is not installed"))
    }
}
