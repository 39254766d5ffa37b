import Foundation

/// Where the CLI finds an approver's bearer token: `SRE_DIAGNOSE_TOKEN`, else a token file
/// (`--token-file`, `SRE_DIAGNOSE_TOKEN_FILE`, or `~/.config/sre-diagnose/token`) that only its
/// owner may read — like ssh with private keys, a group- or world-readable file is refused.
public enum ApproverToken {
    public static func load(file explicitFile: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ClientError) -> String? {
        if explicitFile == nil, let token = environment["SRE_DIAGNOSE_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty {
            return token
        }
        let path: String
        if let file = explicitFile ?? environment["SRE_DIAGNOSE_TOKEN_FILE"] {
            path = file
        } else {
            let home = environment["XDG_CONFIG_HOME"] ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.config")
            path = home + "/sre-diagnose/token"
            guard FileManager.default.fileExists(atPath: path) else { return nil }
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw .invalidArgument("cannot read the token file \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & 0o077 == 0 else {
            throw .invalidArgument(String(format: "the token file %@ is readable by others (mode %o); run: chmod 600 %@", path, Int(info.st_mode & 0o777), path))
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .invalidArgument("cannot read the token file \(path)") }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw .invalidArgument("the token file \(path) is empty") }
        return token
    }
}
