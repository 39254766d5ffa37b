import DiagnosisModel
import Foundation
@testable import Orchestrator
import Testing

/// Finding codes are declared once: a probe, rule or playbook that uses an undeclared code, or
/// a declaration nothing produces, fails here.
@Suite struct FindingCodeTests {
    /// Codes the daemon itself reports (about credentials), not a probe.
    static let daemonCodes: Set<FindingCode> = [.credResolveFailed, .credDenied, .credExpired]

    @Test func everyCodeAProbeCanReportIsDeclared() {
        for probe in ProbeCatalog.all {
            for code in probe.codes {
                #expect(code.declaration != nil, "\(probe.name) reports \(code), which is not declared")
            }
        }
    }

    @Test func everyDeclaredCodeIsProduced() {
        let produced = Set(ProbeCatalog.all.flatMap(\.codes)).union(Self.daemonCodes)
        for declaration in FindingCode.declarations {
            #expect(produced.contains(declaration.code), "\(declaration.code) is declared but no probe reports it")
        }
        #expect(Set(FindingCode.declarations.map(\.code)).count == FindingCode.declarations.count, "declared twice")
    }

    @Test func causesExplainOnlyDeclaredCodesAndTags() {
        for declaration in FindingCode.declarations {
            if declaration.role != .cause && declaration.role != .symptom { #expect(declaration.explains.isEmpty) }
            for explained in declaration.explains where !explained.hasPrefix("tag:") {
                #expect(FindingCode(rawValue: explained).declaration != nil, "\(declaration.code) explains undeclared \(explained)")
                #expect(explained != declaration.code.rawValue)
            }
        }
    }

    @Test func correlationRulesUseDeclaredCodes() {
        for rule in CorrelationRules.all {
            for code in rule.anchors {
                let role = FindingCode(rawValue: code).declaration?.role
                #expect(role == .cause || role == .symptom, "rule \(rule.id) tells the story of \(code), which is not a declared cause or symptom")
            }
        }
    }

    @Test func builtInPlaybooksUseDeclaredCodesAndProbes() throws {
        let library = try PlaybookLibrary.load(directories: [])
        for playbook in library.playbooks {
            for check in playbook.checks ?? [] {
                for code in [check.code].compactMap({ $0 }) {
                    #expect(FindingCode(rawValue: code).declaration != nil, "playbook \(playbook.name) check \(check.name) uses undeclared \(code)")
                }
            }
            for (domain, selection) in playbook.domains {
                for probe in selection.probes {
                    #expect(ProbeCatalog.info(probe)?.domain.rawValue == domain, "playbook \(playbook.name): \(probe) is not a \(domain) probe")
                }
            }
        }
    }

    @Test func everyDatabaseEngineHasItsProbe() {
        for engine in DatabaseEngine.allCases {
            #expect(ProbeCatalog.probe(for: engine)?.domain == .database, "\(engine) has no database probe")
        }
    }
}

@Suite struct InventoryEndpointTests {
    @Test func dnsEndpointsWithExpectedAddressesCheckTheRecord() throws {
        let plain = InventoryProbes.networkProbes("dns://orders-db.internal")
        #expect(plain.map(\.probe) == ["net.dns"])
        let checked = try #require(InventoryProbes.networkProbes("dns://orders-db.internal?expect=10.0.1.7,10.0.1.8").first)
        #expect(checked.probe == "net.dns_record" && checked.target == "orders-db.internal")
        #expect(checked.params["expect"] == .array([.string("10.0.1.7"), .string("10.0.1.8")]))
    }
}
