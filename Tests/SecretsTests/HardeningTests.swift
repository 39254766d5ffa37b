import DiagnosisModel
import Foundation
import Redaction
import Secrets
import TestSupport
import Testing

/// References and providers refuse the forms that would let a reference read what it must not:
/// an option for `op`, a symbolic link or /proc, the daemon's own variables.
@Suite struct HardeningTests {
    @Test(arguments: ["op://Infra/--debug", "op://-v/item/field", "op://Infra/item/-field", "cred://-x", "file:///etc/./passwd"])
    func referencesThatCouldBeReadAsOptionsAreRefused(_ text: String) {
        #expect(throws: CredentialReferenceError.self) { try CredentialReference(parsing: text) }
    }

    @Test func opGetsNamesAfterDoubleDash() async throws {
        // Names go after `--` (defence in depth behind the parser's refusal of '-' names); the
        // fake op parses as cobra, op's parser, does.
        let directory = try TestEnvironment.makeTemporaryDirectory("opf")
        defer { directory.remove() }
        let vault = #"{"vaults":[{"name":"Infra","items":[{"title":"db","id":"abc","fields":[{"id":"password","label":"password","value":"s3cret-value"}]}]}]}"#
        let vaultPath = try directory.write("vault.json", vault)
        let wrapper = try directory.write("op", "#!/bin/sh\nexec /usr/bin/python3 \(TestEnvironment.fixture("fake_op.py")) \(vaultPath) token-0123456789abcdef \"$@\"\n", mode: 0o755)
        let provider = OnePasswordCLIProvider(executable: wrapper, serviceAccountToken: "token-0123456789abcdef")
        let value = try await provider.resolve(try CredentialReference(parsing: "op://Infra/db/password"), timeout: .seconds(20))
        #expect(value["value"] == "s3cret-value")
    }

    @Test func fileReferencesFollowNoLinkAndNeverReadProc() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("fsl")
        defer { directory.remove() }
        let real = try directory.write("secret", "file-secret-value", mode: 0o600)
        let link = directory.file("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        let provider = FileSecretProvider()
        #expect(try await provider.resolve(.file(path: real), timeout: .seconds(1))["value"] == "file-secret-value")
        await #expect(throws: SecretError.self) { try await provider.resolve(.file(path: link), timeout: .seconds(1)) }
        await #expect(throws: SecretError.self) { try await provider.resolve(.file(path: "/proc/self/environ"), timeout: .seconds(1)) }
        let limited = FileSecretProvider(directories: ["/etc/sre-diagnose/secrets"])
        await #expect(throws: SecretError.self) { try await limited.resolve(.file(path: real), timeout: .seconds(1)) }
    }

    @Test func environmentReferencesNeverReachTheDaemonsOwnSecrets() async throws {
        let provider = EnvironmentSecretProvider(
            environment: ["OP_SERVICE_ACCOUNT_TOKEN": "ops_secret-token", "APPROVER_TOKEN": "approver-token-value", "DB_PASSWORD": "db-password-value"],
            reserved: ["APPROVER_TOKEN"]
        )
        #expect(try await provider.resolve(.environment(name: "DB_PASSWORD"), timeout: .seconds(1))["value"] == "db-password-value")
        for name in ["OP_SERVICE_ACCOUNT_TOKEN", "APPROVER_TOKEN"] {
            await #expect(throws: SecretError.self) { try await provider.resolve(.environment(name: name), timeout: .seconds(1)) }
        }
    }

    @Test func hexAndReversedFormsAreRedacted() {
        let secret = "hunter2-canary-Secret"
        let redactor = Redactor(secrets: ["env://X": [secret]])
        let hex = Data(secret.utf8).map { String(format: "%02x", $0) }.joined()
        for leaked in [hex, hex.uppercased(), String(secret.reversed())] {
            #expect(!redactor.redact("dump: \(leaked) end").contains(leaked), "\(leaked)")
        }
    }

    @Test func urlUserinfoIsStripped() {
        #expect(Redactor.strippingURLUserinfo("GET https://admin:pa55@api.example.com/healthz failed") == "GET https://api.example.com/healthz failed")
        #expect(Redactor.strippingURLUserinfo("postgres://u@db:5432/x and http://h/p@q") == "postgres://db:5432/x and http://h/p@q")
        #expect(Redactor.strippingURLUserinfo("mail alice@example.com") == "mail alice@example.com")
    }
}
