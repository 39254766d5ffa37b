import DiagnosisModel
import Hummingbird
import Foundation
import Redaction

/// `GET /environments`: what can be diagnosed where (names, domains, targets and credential
/// references — never secrets). The MCP server's `list_environments` reads it.
struct EnvironmentsHarness {
    let environments: [String: EnvironmentInventory]

    var endpoints: [APIEndpoint] {
        [APIEndpoint(.get, "/environments", list)]
    }

    struct EnvironmentList: Encodable {
        struct Entry: Encodable {
            let name: String
            let domains: [Domain]
            let inventory: EnvironmentInventory
        }
        let environments: [Entry]
    }

    @Sendable func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try HTTPInput.identity(context)
        let entries = environments.keys.sorted().compactMap { name in
            environments[name].map { EnvironmentList.Entry(name: name, domains: $0.domains, inventory: $0) }
        }
        // An endpoint written with its password (`https://user:pass@host`) is shown without it.
        let text = String(decoding: try JSONResponse.encoder.encode(EnvironmentList(environments: entries)), as: UTF8.self)
        return JSONResponse.make(data: Data(Redactor.strippingURLUserinfo(text).utf8))
    }
}
