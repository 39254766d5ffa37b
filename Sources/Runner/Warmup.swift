import DiagnosisModel
import Foundation
import Probes
import Redaction
import RunnerProtocol

/// What a warm runner does while it waits for its job: the one-time costs of a Swift process's
/// first use — JSON coding of every frame type (a finding with each kind of evidence), date
/// formatting, the probe registry, the redactor, and the probes' libraries (``ProbeWarmup``) —
/// are paid now, not on the job's clock. Nothing here touches a credential (there is none yet)
/// or the network beyond resolving `localhost`.
enum Warmup {
    static func prepare() async {
        let request = ProbeRequest(id: "warmup#1", probe: "net.tcp_connect", target: "localhost:1", params: ["host": .string("localhost"), "port": .number(1), "tls": .bool(false), "checks": .array([.string("a")]), "extra": .object(["x": .null])], credential: "env://WARMUP")
        let job = RunnerJob(
            sessionID: "warmup", domain: .network, probes: [request],
            credentials: ["env://WARMUP": ResolvedCredential(reference: "env://WARMUP", fields: ["value": "not-a-secret"])],
            deadline: Date().addingTimeInterval(60)
        )
        let evidence: [Evidence] = [.text("address", "127.0.0.1"), .table("rows", columns: ["a", "b"], rows: [["1", "2"]])]
        let finding = Finding(id: "network-1", domain: .network, probe: request.probe, draft: FindingDraft(code: .netOK, severity: .ok, target: request.target, title: "warm-up", evidence: evidence), observedAt: Date())
        for message in [RunnerMessage.job(job), .finding(finding), .progress(ProgressUpdate(probe: request.id, state: .started, fraction: 0))] {
            if let frame = try? MessageCodec.frame(message) { _ = try? MessageCodec.decode(Array(frame.dropFirst(4))) }
        }
        _ = JSONCoding.format(Date())
        _ = ProbeRegistry.builtIn.count
        _ = Redactor(secrets: ["env://WARMUP": ["not-a-secret"]]).redact("warm-up not-a-secret")
        await ProbeWarmup.prepare()
    }
}
