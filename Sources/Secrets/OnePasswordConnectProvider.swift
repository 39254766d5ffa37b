import DiagnosisModel
import Foundation
import OutboundHTTP

/// `op://` through a 1Password Connect server's REST API: vault by name (or id), item by title
/// (or id), then the field by label or id within the named section.
public struct OnePasswordConnectProvider: SecretProvider {
    public let name = "1password-connect"
    let host: URL
    let token: String

    public init(host: URL, token: String) {
        self.host = host
        self.token = token
    }

    public func handles(_ reference: CredentialReference) -> Bool {
        if case .onePassword = reference { return true }
        return false
    }

    public func resolve(_ reference: CredentialReference, timeout: Duration) async throws -> [String: String] {
        guard case .onePassword(let op) = reference else {
            throw SecretError(reference: reference.description, provider: name, reason: "not an op:// reference")
        }
        let client = ConnectClient(host: host, token: token, timeout: timeout, reference: reference.description, provider: name)
        let vaultID = try await client.find("/v1/vaults", filter: "name eq \"\(op.vault)\"", nameKey: "name", wanted: op.vault)
        let itemID = try await client.find("/v1/vaults/\(vaultID)/items", filter: "title eq \"\(op.item)\"", nameKey: "title", wanted: op.item)
        let item = try await client.object("/v1/vaults/\(vaultID)/items/\(itemID)")
        let data = try JSONSerialization.data(withJSONObject: item)
        guard let fieldName = op.field else {
            return try ItemFields.fromOnePasswordJSON(data, reference: reference.description, provider: name)
        }
        let fields = item["fields"] as? [[String: Any]] ?? []
        let sections = item["sections"] as? [[String: Any]] ?? []
        func sectionMatches(_ field: [String: Any]) -> Bool {
            guard let wanted = op.section?.lowercased() else { return true }
            guard let sectionID = (field["section"] as? [String: Any])?["id"] as? String else { return false }
            if sectionID.lowercased() == wanted { return true }
            let label = sections.first { ($0["id"] as? String) == sectionID }?["label"] as? String
            return label?.lowercased() == wanted
        }
        let candidates = fields.filter { field in
            let label = (field["label"] as? String)?.lowercased()
            let id = (field["id"] as? String)?.lowercased()
            return (label == fieldName.lowercased() || id == fieldName.lowercased()) && sectionMatches(field)
        }
        guard let field = candidates.first else {
            throw SecretError(reference: reference.description, provider: name, reason: "item \"\(op.item)\" has no field \"\(fieldName)\"\(op.section.map { " in section \"\($0)\"" } ?? "")")
        }
        let value: String?
        switch op.attribute {
        case nil: value = field["value"] as? String
        case "otp"?: value = field["totp"] as? String
        case "type"?: value = field["type"] as? String
        case "id"?: value = field["id"] as? String
        case "purpose"?: value = field["purpose"] as? String
        case "label"?, "title"?: value = field["label"] as? String
        default: value = nil
        }
        guard let value, !value.isEmpty else {
            throw SecretError(reference: reference.description, provider: name, reason: "field \"\(fieldName)\" has no \(op.attribute ?? "value")")
        }
        return ["value": value, fieldName.lowercased(): value]
    }
}

/// The few Connect REST calls the provider needs.
struct ConnectClient {
    let host: URL
    let token: String
    let timeout: Duration
    let reference: String
    let provider: String

    func fail(_ reason: String) -> SecretError { SecretError(reference: reference, provider: provider, reason: reason) }

    func get(_ path: String, query: [URLQueryItem] = []) async throws -> Any {
        guard var components = URLComponents(url: host.appendingPathComponent(path), resolvingAgainstBaseURL: false) else { throw fail("bad Connect host URL") }
        if !query.isEmpty { components.queryItems = query }
        guard let url = components.url else { throw fail("bad Connect URL") }
        let answer: OutboundResponse
        do {
            answer = try await OutboundHTTPClient.shared.send(OutboundRequest(.get, url, headers: [(name: "Authorization", value: "Bearer \(token)"), (name: "Accept", value: "application/json")], timeout: timeout))
        } catch {
            throw fail("cannot reach 1Password Connect at \(host.absoluteString): \(error)")
        }
        let data = answer.body
        switch answer.status {
        case 200: break
        case 401, 403: throw fail("1Password Connect rejected the token (HTTP \(answer.status))")
        case 404: throw fail("not found in 1Password Connect (\(path))")
        default: throw fail("1Password Connect answered HTTP \(answer.status)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) else { throw fail("1Password Connect sent something that is not JSON") }
        return object
    }

    func object(_ path: String) async throws -> [String: Any] {
        guard let object = try await get(path) as? [String: Any] else { throw fail("unexpected answer from \(path)") }
        return object
    }

    /// The id of the entry named `wanted` (case-insensitive), or `wanted` itself when it is an id.
    func find(_ path: String, filter: String, nameKey: String, wanted: String) async throws -> String {
        let list = try await get(path, query: [URLQueryItem(name: "filter", value: filter)]) as? [[String: Any]] ?? []
        if let match = list.first(where: { ($0[nameKey] as? String)?.lowercased() == wanted.lowercased() }), let id = match["id"] as? String {
            return id
        }
        // Connect filters are exact; fall back to listing and matching without case, then to ids.
        let all = try await get(path) as? [[String: Any]] ?? []
        if let match = all.first(where: { ($0[nameKey] as? String)?.lowercased() == wanted.lowercased() || ($0["id"] as? String) == wanted }),
           let id = match["id"] as? String {
            return id
        }
        throw fail("no \(nameKey == "name" ? "vault" : "item") \"\(wanted)\" in 1Password Connect")
    }
}
