import Foundation

/// The dashboard (page, script, style sheet) and the OpenAPI document, shipped as module resources and read once at
/// start-up. Looked up next to the executable (where `swift build` and `scripts/install` put the
/// bundle) rather than through `Bundle.module`, which aborts the process when the bundle is
/// missing.
public struct StaticResources: Sendable {
    public let dashboard: String
    public let dashboardScript: String
    public let dashboardStyle: String
    public let openAPI: String

    public init(dashboard: String, dashboardScript: String = "", dashboardStyle: String = "", openAPI: String) {
        self.dashboard = dashboard
        self.dashboardScript = dashboardScript
        self.dashboardStyle = dashboardStyle
        self.openAPI = openAPI
    }

    static let bundleName = "sre-diagnose_Daemon.resources"

    public static func load() throws -> StaticResources {
        var candidates: [String] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
            candidates.append(directory.appendingPathComponent(bundleName).path)
            // <prefix>/bin → <prefix>/share/sre-diagnose: any install prefix, or a package unpacked in place.
            candidates.append(directory.deletingLastPathComponent().appendingPathComponent("share/sre-diagnose/\(bundleName)").path)
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(bundleName).path)
        candidates += ["/usr/local/share/sre-diagnose/\(bundleName)", "/usr/share/sre-diagnose/\(bundleName)"]
        for directory in candidates {
            if let dashboard = try? String(contentsOfFile: "\(directory)/dashboard.html", encoding: .utf8),
               let script = try? String(contentsOfFile: "\(directory)/dashboard.js", encoding: .utf8),
               let style = try? String(contentsOfFile: "\(directory)/dashboard.css", encoding: .utf8),
               let openAPI = try? String(contentsOfFile: "\(directory)/openapi.yaml", encoding: .utf8) {
                return StaticResources(dashboard: dashboard, dashboardScript: script, dashboardStyle: style, openAPI: openAPI)
            }
        }
        throw ConfigError(source: "installation", key: "", reason: "resource bundle \(bundleName) not found next to the executable (looked in \(candidates.joined(separator: ", ")))")
    }
}
