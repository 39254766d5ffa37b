import Foundation
import TestSupport
import Testing

/// The public incident suite (`scripts/quality`, also `scripts/bench quality`): 30 incidents as
/// they present in practice, each with red herrings, and 3 healthy baselines with chatty logs,
/// through the real daemon (its planner and playbooks, runners replaying what the probes
/// observe, its synthesizer). The report's first line must name the real cause.
@Suite struct QualityTests {
    @Test func theFirstCauseIsTheRealOne() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("quality")
        defer { directory.remove() }
        let script = TestEnvironment.packageRoot.appendingPathComponent("scripts/quality/run.py").path
        let run = try ChildProcess("/usr/bin/python3", [script, "--bin", TestEnvironment.binDirectory.path, "--json"], directory: directory, name: "quality")
        #expect(run.wait(timeout: 300) == 0, "\(run.stderr.suffix(3000))")
        let lines = run.stdout.split(separator: "\n")
        let summary = try #require(lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }, "\(run.stdout.suffix(3000))")
        let incidents = try #require(summary["incidents"] as? Int)
        let top1 = try #require(summary["top1"] as? Int)
        let top3 = try #require(summary["top3"] as? Int)
        #expect(incidents >= 30)
        #expect(Double(top1) >= 0.9 * Double(incidents), "top-1 \(top1)/\(incidents):\n\(run.stdout)")
        #expect(top3 == incidents, "top-3 \(top3)/\(incidents):\n\(run.stdout)")
        #expect(summary["baselines"] as? Int ?? 0 >= 3)
        #expect(summary["false_high"] as? Int == 0, "\(run.stdout)")
    }
}
