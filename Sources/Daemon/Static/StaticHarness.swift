import Hummingbird
import NIOCore

/// `GET /` (dashboard) and `GET /openapi.yaml`.
struct StaticHarness {
    let resources: StaticResources
    let environments: [String]

    /// The document with this daemon's environments as the enum of `environment`.
    var openAPIDocument: String {
        let names = environments.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
        return resources.openAPI.replacingOccurrences(
            of: "# ENVIRONMENTS (the daemon lists the configured names here)",
            with: "enum: [\(names), null]"
        )
    }

    var endpoints: [APIEndpoint] {
        let dashboard = ByteBuffer(string: resources.dashboard)
        let openAPI = ByteBuffer(string: openAPIDocument)
        return [
            APIEndpoint(.get, "/") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"], body: .init(byteBuffer: dashboard))
            },
            APIEndpoint(.get, "/openapi.yaml") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: openAPI))
            },
        ]
    }
}
