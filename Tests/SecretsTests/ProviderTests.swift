import DiagnosisModel
import Foundation
import Secrets
import TestSupport
import Testing

/// The providers against the 1Password stand-ins (the real `op` CLI and Connect server cannot
/// run here without an account): same commands, same REST shapes.
@Suite struct ProviderTests {
    static var vault: [String: Any] { ["vaults": [[
        "id": "vlt0001", "name": "Infrastructure",
        "items": [[
            "id": "itm0001", "title": "prod-db", "sections": [["id": "sec1", "label": "login"], ["id": "sec2", "label": "replica"]],
            "fields": [
                ["id": "username", "label": "username", "value": "app", "type": "STRING"],
                ["id": "password", "label": "password", "value": "primary-password", "type": "CONCEALED", "section": ["id": "sec1"]],
                ["id": "pw2", "label": "password", "value": "replica-password", "type": "CONCEALED", "section": ["id": "sec2"]],
                ["id": "one-time", "label": "one-time", "value": "", "totp": "123456", "type": "OTP"],
            ],
        ]],
    ]]] }

    static func writeVault(_ directory: TemporaryDirectory) throws -> String {
        try directory.write("vault.json", String(decoding: try JSONSerialization.data(withJSONObject: vault), as: UTF8.self))
    }

    @Test func connectResolvesFieldsSectionsAttributesAndItems() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("conn")
        defer { directory.remove() }
        let server = try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture("onepassword_connect.py"), try Self.writeVault(directory), "tok-123", directory.file("port"), directory.file("requests.log")], directory: directory)
        defer { server.stop() }
        #expect(TestEnvironment.waitUntil { FileManager.default.fileExists(atPath: directory.file("port")) })
        let port = try String(contentsOfFile: directory.file("port"), encoding: .utf8)
        let host = try #require(URL(string: "http://127.0.0.1:\(port)"))
        let provider = OnePasswordConnectProvider(host: host, token: "tok-123")
        func resolve(_ text: String) async throws -> [String: String] {
            try await provider.resolve(try CredentialReference(parsing: text), timeout: .seconds(5))
        }
        #expect(try await resolve("op://Infrastructure/prod-db/login/password")["value"] == "primary-password")
        #expect(try await resolve("op://infrastructure/PROD-DB/replica/password")["value"] == "replica-password")
        #expect(try await resolve("op://Infrastructure/prod-db/pw2")["value"] == "replica-password", "field by id")
        #expect(try await resolve("op://Infrastructure/prod-db/one-time?attribute=otp")["value"] == "123456")
        #expect(try await resolve("op://vlt0001/itm0001/username")["value"] == "app", "vault and item by id")
        let item = try await resolve("op://Infrastructure/prod-db")
        #expect(item["username"] == "app" && item["password"] != nil)

        await #expect(throws: SecretError.self) { try await resolve("op://Infrastructure/prod-db/nope") }
        do {
            _ = try await resolve("op://Nowhere/prod-db/password")
        } catch let error as SecretError {
            #expect(error.reason.contains("no vault \"Nowhere\""))
        }
        let wrongToken = OnePasswordConnectProvider(host: host, token: "wrong")
        do {
            _ = try await wrongToken.resolve(try CredentialReference(parsing: "op://Infrastructure/prod-db/password"), timeout: .seconds(5))
            Issue.record("a wrong token must fail")
        } catch let error as SecretError {
            #expect(error.reason.contains("rejected the token"))
            #expect(!error.description.contains("wrong"))
        }
        // The documented REST calls, with the bearer token.
        let requests = try String(contentsOfFile: directory.file("requests.log"), encoding: .utf8)
        #expect(requests.contains(#"/v1/vaults?filter=name"#))
        #expect(requests.contains(#"/v1/vaults/vlt0001/items?filter=title"#))
        #expect(requests.contains(#"/v1/vaults/vlt0001/items/itm0001""#))
        #expect(requests.contains("Bearer tok-123"))
    }

    @Test func cliReadsWithTheTokenInTheEnvironmentOnly() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("opcli")
        defer { directory.remove() }
        let op = try directory.write("op", "#!/bin/sh\nexec /usr/bin/python3 \(TestEnvironment.fixture("fake_op.py")) \(try Self.writeVault(directory)) sa-token-123 \"$@\"\n", mode: 0o755)
        let provider = OnePasswordCLIProvider(executable: op, serviceAccountToken: "sa-token-123")
        #expect(try await provider.resolve(try CredentialReference(parsing: "op://Infrastructure/prod-db/login/password"), timeout: .seconds(10))["value"] == "primary-password")
        let item = try await provider.resolve(try CredentialReference(parsing: "op://Infrastructure/prod-db"), timeout: .seconds(10))
        #expect(item["username"] == "app")

        let badToken = OnePasswordCLIProvider(executable: op, serviceAccountToken: "other")
        do {
            _ = try await badToken.resolve(try CredentialReference(parsing: "op://Infrastructure/prod-db/password"), timeout: .seconds(10))
            Issue.record("a bad token must fail")
        } catch let error as SecretError {
            #expect(error.reason.contains("invalid service account token"))
        }
        let missing = OnePasswordCLIProvider(executable: "/nonexistent/op", serviceAccountToken: "x")
        do {
            _ = try await missing.resolve(try CredentialReference(parsing: "op://a/b/c"), timeout: .seconds(10))
        } catch let error as SecretError {
            #expect(error.reason.contains("not installed"))
        }
    }

    @Test func brokerRefusesDevelopmentSchemesUnlessEnabled() async throws {
        let broker = SecretBroker(providers: [EnvironmentSecretProvider(environment: ["X": "value-of-x"]), FileSecretProvider()], policy: .init())
        #expect(broker.refusal(for: .environment(name: "X"))?.contains("allow_env_refs") == true)
        #expect(broker.refusal(for: .file(path: "/etc/hostname"))?.contains("allow_file_refs") == true)
        guard case .failure(let error) = await broker.resolve("env://X") else { Issue.record("must refuse"); return }
        #expect(error.reason.contains("development only"))
        let open = SecretBroker(providers: [EnvironmentSecretProvider(environment: ["X": "value-of-x"])], policy: .init(allowEnvRefs: true))
        guard case .success(let credential) = await open.resolve("env://X") else { Issue.record("must resolve"); return }
        #expect(credential.fields["value"] == "value-of-x")
        #expect(open.refusal(for: .systemd(name: "y"))?.contains("no secret provider") == true)
    }
}
