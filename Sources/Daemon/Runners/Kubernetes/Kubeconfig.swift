import Foundation
import Yams

/// The API server, token and CA of a kubeconfig's current context — for a daemon that runs
/// outside the cluster it starts runner Jobs in (`runners.kubernetes.kubeconfig`). Token users
/// only (`token` or `tokenFile`); exec plugins and client certificates are not followed.
struct Kubeconfig: Equatable {
    var server: String
    var token: String
    /// PEM of the cluster's CA when the kubeconfig embeds it (`certificate-authority-data`).
    var caPEM: String?
    /// The CA file it names (`certificate-authority`), relative to the kubeconfig.
    var caFile: String?
    var namespace: String?

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    static func load(path: String) throws -> Kubeconfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Problem(description: "cannot read \(path)")
        }
        return try parse(text, directory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    static func parse(_ text: String, directory: String) throws -> Kubeconfig {
        guard let root = try? Yams.load(yaml: text) as? [String: Any] else { throw Problem(description: "not a kubeconfig (YAML mapping)") }
        func named(_ list: String, _ name: String?) -> [String: Any]? {
            guard let name else { return nil }
            return (root[list] as? [[String: Any]])?.first { $0["name"] as? String == name }
        }
        guard let contextName = root["current-context"] as? String, let context = named("contexts", contextName)?["context"] as? [String: Any] else {
            throw Problem(description: "no current-context")
        }
        guard let cluster = named("clusters", context["cluster"] as? String)?["cluster"] as? [String: Any], let server = cluster["server"] as? String, server.hasPrefix("https://") else {
            throw Problem(description: "context \(contextName): no cluster with an https server")
        }
        guard let user = named("users", context["user"] as? String)?["user"] as? [String: Any] else {
            throw Problem(description: "context \(contextName): no user")
        }
        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : "\(directory)/\(file)" }
        let token: String
        if let inline = user["token"] as? String {
            token = inline
        } else if let file = user["tokenFile"] as? String, let read = try? String(contentsOfFile: resolve(file), encoding: .utf8) {
            token = read.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            throw Problem(description: "context \(contextName): the user has no token (exec plugins and client certificates are not supported; use a service account token)")
        }
        var config = Kubeconfig(server: server, token: token, namespace: context["namespace"] as? String)
        if let data = cluster["certificate-authority-data"] as? String {
            guard let pem = Data(base64Encoded: data).map({ String(decoding: $0, as: UTF8.self) }) else { throw Problem(description: "certificate-authority-data is not base64") }
            config.caPEM = pem
        } else if let file = cluster["certificate-authority"] as? String {
            config.caFile = resolve(file)
        }
        return config
    }
}
