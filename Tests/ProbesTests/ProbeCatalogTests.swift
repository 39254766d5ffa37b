import DiagnosisModel
import Probes
import Testing

@Suite struct ProbeCatalogTests {
    /// Every catalogue entry (what planners and the LLM see) has an implementation, and back.
    @Test func catalogueAndRegistryMatch() {
        #expect(Set(ProbeCatalog.all.map(\.name)) == Set(ProbeRegistry.builtIn.keys))
        #expect(Set(ProbeCatalog.all.map(\.name)).count == ProbeCatalog.all.count)
        for info in ProbeCatalog.all {
            #expect(!info.summary.isEmpty && !info.codes.isEmpty && info.defaultTimeoutSeconds > 0, "\(info.name)")
        }
    }
}
