import DiagnosisModel
import Foundation
import Probes
import Synchronization

/// Runs one probe in-process and collects what it reports.
final class CollectingSink: ProbeSink {
    let findings = Mutex<[FindingDraft]>([])
    let logs = Mutex<[String]>([])

    func report(_ draft: FindingDraft, from request: ProbeRequest) async { findings.withLock { $0.append(draft) } }
    func log(_ level: LogLevel, _ message: String, from request: ProbeRequest) async { logs.withLock { $0.append(message) } }
}

struct ProbeRun {
    let findings: [FindingDraft]
    let logs: [String]
    let error: (any Error)?

    var codes: [String] { findings.map(\.code) }
    func first(_ code: String) -> FindingDraft? { findings.first { $0.code == code } }
}

enum ProbeHarness {
    static func run(
        _ probe: any Probe, target: String, params: [String: JSONValue] = [:], credential: [String: String]? = nil, timeout: Duration = .seconds(30),
        tools: ToolRunner = ToolRunner()
    ) async -> ProbeRun {
        let sink = CollectingSink()
        let request = ProbeRequest(id: "test", probe: type(of: probe).name, target: target, params: params, credential: credential == nil ? nil : "op://test/cred")
        let context = ProbeContext(
            request: request, credential: credential.map { ResolvedCredential(reference: "op://test/cred", fields: $0) },
            tools: tools, deadline: .now + timeout, sink: sink
        )
        var failure: (any Error)?
        do { try await probe.run(context) } catch { failure = error }
        return ProbeRun(findings: sink.findings.withLock { $0 }, logs: sink.logs.withLock { $0 }, error: failure)
    }
}
