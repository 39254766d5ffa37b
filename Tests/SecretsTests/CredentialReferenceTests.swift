import DiagnosisModel
import Testing

@Suite struct CredentialReferenceTests {
    @Test func onePasswordReferences() throws {
        let field = try CredentialReference(parsing: "op://Infrastructure/prod-db/password")
        guard case .onePassword(let ref) = field else { Issue.record("not op"); return }
        #expect(ref.vault == "Infrastructure" && ref.item == "prod-db" && ref.section == nil && ref.field == "password" && ref.attribute == nil)
        let sectioned = try CredentialReference(parsing: "op://Infrastructure/prod db/login/password?attribute=otp")
        guard case .onePassword(let second) = sectioned else { Issue.record("not op"); return }
        #expect(second.section == "login" && second.attribute == "otp" && second.item == "prod db")
        let item = try CredentialReference(parsing: "op://Infrastructure/prod-db")
        guard case .onePassword(let third) = item else { Issue.record("not op"); return }
        #expect(third.field == nil)
        // Names compare case-insensitively.
        #expect(try CredentialReference(parsing: "op://INFRASTRUCTURE/Prod-DB/Password").canonicalKey == field.canonicalKey)
        #expect(field.description == "op://Infrastructure/prod-db/password")
    }

    @Test(arguments: [
        ("op://", "expected op://vault/item"),
        ("op://vault", "expected op://vault/item"),
        ("op://v/i/s/f/extra", "expected op://vault/item"),
        ("op://v//f", "item name is empty"),
        ("op://v/i/f?attribute=colour", "unknown attribute"),
        ("op://v/i/f?otp", "only query"),
        ("op://v/i?attribute=otp", "needs a field"),
        ("op://v/it$em/f", "characters 1Password references do not allow"),
        ("cred://", "systemd credential name"),
        ("cred://a/b", "systemd credential name"),
        ("env://1ABC", "environment variable name"),
        ("file://relative/path", "absolute path"),
        ("file:///etc/../shadow", "may not contain . or .. components"),
        ("vault://x", "unknown scheme"),
    ])
    func malformedReferencesSayWhy(text: String, reason: String) {
        do {
            _ = try CredentialReference(parsing: text)
            Issue.record("\(text) should be rejected")
        } catch {
            #expect(error.reason.contains(reason), "\(text): \(error.reason)")
            #expect(error.description.contains(text))
        }
    }

    @Test func otherSchemes() throws {
        #expect(try CredentialReference(parsing: "cred://approver-alice") == .systemd(name: "approver-alice"))
        #expect(try CredentialReference(parsing: "env://DB_PASSWORD") == .environment(name: "DB_PASSWORD"))
        #expect(try CredentialReference(parsing: "file:///run/secrets/db") == .file(path: "/run/secrets/db"))
    }
}
