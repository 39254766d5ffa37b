import DiagnosisModel
import Foundation

/// The few Kubernetes API calls the Job launcher makes (a Job: create, read, delete; its token's
/// Secret: create, own, delete), through
/// curl: the API server's CA is the cluster's own, which curl takes as a file, and the bearer
/// token reaches curl in its config on stdin — never in argv.
struct KubernetesAPI: Sendable {
    /// `https://HOST:PORT` of the API server.
    let server: String
    let token: String
    /// The cluster CA (PEM file); nil: the system's roots.
    let caFile: String?
    var timeout: Duration = .seconds(10)

    struct Failure: Error, CustomStringConvertible {
        let status: Int?
        let message: String
        var description: String { status.map { "Kubernetes API \($0): \(message)" } ?? "Kubernetes API: \(message)" }
    }

    /// The service account a pod runs as, when the daemon runs in a cluster.
    static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Creates the Job; returns its uid (what an owner reference names).
    func createJob(_ job: KubernetesJob) async throws -> String? {
        let created = try await call("POST", "/apis/batch/v1/namespaces/\(job.metadata.namespace)/jobs", body: String(decoding: try JSONEncoder().encode(job), as: UTF8.self))
        return created.objectValue?["metadata"]?.objectValue?["uid"]?.stringValue
    }

    func createSecret(_ secret: KubernetesSecret) async throws {
        _ = try await call("POST", "/api/v1/namespaces/\(secret.metadata.namespace)/secrets", body: String(decoding: try JSONEncoder().encode(secret), as: UTF8.self))
    }

    /// Makes the Job the Secret's owner: Kubernetes' garbage collector then deletes the Secret
    /// with the Job, even when this daemon is gone by then.
    func setOwner(ofSecret name: String, namespace: String, job: String, uid: String) async throws {
        let owner: JSONValue = .object(["metadata": .object(["ownerReferences": .array([.object([
            "apiVersion": .string("batch/v1"), "kind": .string("Job"), "name": .string(job), "uid": .string(uid),
        ])])])])
        _ = try await call(
            "PATCH", "/api/v1/namespaces/\(namespace)/secrets/\(name)",
            body: String(decoding: try JSONEncoder().encode(owner), as: UTF8.self), contentType: "application/merge-patch+json"
        )
    }

    /// Deletes the Secret; one already gone is fine.
    func deleteSecret(_ name: String, namespace: String) async throws {
        do {
            _ = try await call("DELETE", "/api/v1/namespaces/\(namespace)/secrets/\(name)")
        } catch let failure as Failure where failure.status == 404 {
            return
        }
    }

    /// The Job, or nil when it does not exist (deleted, or cleaned up after finishing).
    func job(_ name: String, namespace: String) async throws -> JSONValue? {
        do {
            return try await call("GET", "/apis/batch/v1/namespaces/\(namespace)/jobs/\(name)")
        } catch let failure as Failure where failure.status == 404 {
            return nil
        }
    }

    /// Deletes the Job and (in the background) its pods; a Job already gone is fine.
    func deleteJob(_ name: String, namespace: String) async throws {
        do {
            _ = try await call("DELETE", "/apis/batch/v1/namespaces/\(namespace)/jobs/\(name)?propagationPolicy=Background")
        } catch let failure as Failure where failure.status == 404 {
            return
        }
    }

    private func call(_ method: String, _ path: String, body: String? = nil, contentType: String = "application/json") async throws -> JSONValue {
        func quoted(_ value: String) -> String {
            "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r") + "\""
        }
        let seconds = Int(timeout.components.seconds)
        var config = [
            "url = \(quoted(server + path))", "request = \(method)", "silent", "show-error",
            "max-time = \(seconds)", "connect-timeout = \(min(seconds, 5))",
            "header = \(quoted("Authorization: Bearer \(token)"))", "header = \"Accept: application/json\"",
            "write-out = \(quoted("\n%{http_code}"))",
        ]
        if let caFile { config.append("cacert = \(quoted(caFile))") }
        if let body {
            // The body too goes in the config (one JSON line, quoted), so stdin carries both.
            config += ["header = \(quoted("Content-Type: \(contentType)"))", "data-binary = \(quoted(body))"]
        }
        let output = try await Curl.run(config: config.joined(separator: "\n") + "\n")
        guard let newline = output.stdout.lastIndex(of: UInt8(ascii: "\n")), let status = Int(String(decoding: output.stdout[(newline + 1)...], as: UTF8.self)) else {
            throw Failure(status: nil, message: output.stderr.isEmpty ? "no answer from \(server)" : output.stderr)
        }
        let data = output.stdout[..<newline]
        let json = try? JSONCoding.decoder().decode(JSONValue.self, from: Data(data))
        guard (200..<300).contains(status) else {
            throw Failure(status: status, message: json?.objectValue?["message"]?.stringValue ?? String(decoding: data.prefix(500), as: UTF8.self))
        }
        return json ?? .null
    }
}

/// Runs curl with its config (which holds the token) on stdin.
enum Curl {
    struct Output: Sendable {
        var stdout: Data
        var stderr: String
    }

    static func run(config: String) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    continuation.resume(returning: try runBlocking(config: config))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    static let passthrough: Set = ["PATH", "LANG", "LC_ALL", "https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"]

    private static func runBlocking(config: String) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["--config", "-"]
        // Never the daemon's environment, which may hold env:// secrets: the path, the locale and
        // an egress proxy are all curl needs from it.
        process.environment = ProcessInfo.processInfo.environment.filter { Self.passthrough.contains($0.key) }
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(config.utf8))
        try input.fileHandleForWriting.close()
        // stderr is small; stdout is read to its end first so a large body cannot block curl.
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(stdout: stdout, stderr: String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
