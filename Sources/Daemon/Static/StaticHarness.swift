import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /` (dashboard, its script and style sheet) and `GET /openapi.yaml`.
///
/// The page runs under a strict Content-Security-Policy: scripts and styles only from this
/// daemon (no inline script, so injected markup cannot run), never framed (no clickjacking of
/// the Approve button), no plug-ins, forms only to itself.
struct StaticHarness {
    static let contentSecurityPolicy = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "style-src-attr 'unsafe-inline'", "img-src 'self' data:",
        "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

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
        let script = ByteBuffer(string: resources.dashboardScript)
        let style = ByteBuffer(string: resources.dashboardStyle)
        let openAPI = ByteBuffer(string: openAPIDocument)
        func page(_ body: ByteBuffer, _ type: String) -> APIEndpoint.Handler {
            { _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: type, .cacheControl: "no-cache", .contentSecurityPolicy: Self.contentSecurityPolicy, .xFrameOptions: "DENY"],
                    body: .init(byteBuffer: body)
                )
            }
        }
        return [
            APIEndpoint(.get, "/", public: true, page(dashboard, "text/html; charset=utf-8")),
            APIEndpoint(.get, "/dashboard.js", public: true, page(script, "text/javascript; charset=utf-8")),
            APIEndpoint(.get, "/dashboard.css", public: true, page(style, "text/css; charset=utf-8")),
            APIEndpoint(.get, "/openapi.yaml", public: true) { _, _ in
                Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: openAPI))
            },
        ]
    }
}

extension HTTPField.Name {
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
}
