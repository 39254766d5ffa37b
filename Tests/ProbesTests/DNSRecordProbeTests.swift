import DiagnosisModel
import Probes
import Testing

/// `net.dns_record` against the machine's real resolver (`localhost` from /etc/hosts, and a
/// name under the reserved `.invalid` TLD that can never resolve).
@Suite struct DNSRecordProbeTests {
    @Test func expectedAddressesAreFine() async {
        let run = await ProbeHarness.run(DNSRecordProbe(), target: "localhost", params: ["expect": .array([.string("127.0.0.1"), .string("::1")])])
        #expect(run.codes == ["net.ok"], "\(run.findings.map(\.title))")
    }

    @Test func aStaleRecordIsACause() async throws {
        let run = await ProbeHarness.run(DNSRecordProbe(), target: "localhost", params: ["expect": .array([.string("10.0.1.7")])])
        let finding = try #require(run.first("net.dns_mismatch"), "\(run.codes)")
        #expect(finding.severity == .high)
        #expect(finding.title.contains("127.0.0.1") && finding.title.contains("not 10.0.1.7"))
        #expect(FindingCode.netDNSMismatch.declaration?.role == .cause)
    }

    @Test func anExtraAddressIsMedium() async throws {
        let run = await ProbeHarness.run(DNSRecordProbe(), target: "localhost", params: ["expect": .array([.string("127.0.0.1")])])
        // localhost may or may not also resolve to ::1 here: either all expected, or one extra.
        #expect(run.codes == ["net.ok"] || run.first("net.dns_mismatch")?.severity == .medium, "\(run.findings.map(\.title))")
    }

    @Test func anUnresolvableNameAndAMissingExpectation() async {
        let missing = await ProbeHarness.run(DNSRecordProbe(), target: "no-such-host.invalid", params: ["expect": .array([.string("10.0.0.1")])])
        #expect(missing.codes == ["net.dns_failure"])
        let unconfigured = await ProbeHarness.run(DNSRecordProbe(), target: "localhost")
        #expect(unconfigured.error.map { "\($0)" }?.contains("needs expect") == true)
    }
}
