import DiagnosisModel
import Foundation

/// Runs read-only `kubectl` commands with the job's kubeconfig (from the credential, written to a
/// private file) or the configured kubeconfig/context.
struct Kubectl {
    let context: ProbeContext
    let directory: String
    let kubeconfig: String?

    static let readOnlyVerbs: Set<String> = ["get", "logs", "version", "api-resources"]

    /// Prepares the kubeconfig; call `close()` when done.
    static func open(_ context: ProbeContext) throws -> Kubectl {
        let files = PrivateFiles.runner
        let directory = try files.makeDirectory()
        var kubeconfig = context.string("kubeconfig")
        if let credential = context.credential {
            guard let content = credential.field("kubeconfig", "config", "value", "notesplain", "notes") else {
                files.remove(directory)
                throw ProbeError("the Kubernetes credential has no kubeconfig field")
            }
            let path = "\(directory)/kubeconfig"
            do {
                try files.write(Data(content.utf8), to: path)
            } catch {
                files.remove(directory)
                throw error
            }
            kubeconfig = path
        }
        return Kubectl(context: context, directory: directory, kubeconfig: kubeconfig)
    }

    func close() { PrivateFiles.runner.remove(directory) }

    /// `kubectl <arguments>`; only read-only verbs are allowed.
    func run(_ arguments: [String]) async throws -> ToolResult {
        guard let verb = arguments.first, Self.readOnlyVerbs.contains(verb) else { throw ProbeError("refusing kubectl \(arguments.first ?? ""): only read-only verbs run") }
        var full = arguments + ["--request-timeout=\(context.int("request_timeout_s") ?? 15)s", "--cache-dir=\(directory)/cache"]
        if let kubeContext = context.string("context") { full += ["--context", kubeContext] }
        var environment: [String: String] = ["HOME": directory]
        if let kubeconfig { environment["KUBECONFIG"] = kubeconfig }
        let result: ToolResult
        do {
            result = try await context.tools.run("kubectl", full, environment: environment, timeout: context.remaining)
        } catch let error as ProbeError {
            throw ProbeError(error.message.contains("not installed") ? "kubectl is not installed on the daemon host" : error.message)
        }
        guard result.exitCode == 0 else { throw Self.classify(result.stderrText) }
        return result
    }

    /// `kubectl get <kind> -n <namespace> -o json` → items.
    func items(_ kind: String, namespace: String?) async throws -> [[String: Any]] {
        var arguments = ["get", kind, "-o", "json"]
        if let namespace { arguments.append("--namespace=\(namespace)") }  // one argument: a hostile value cannot become a flag
        let result = try await run(arguments)
        guard let object = try? JSONSerialization.jsonObject(with: result.stdout) as? [String: Any] else {
            throw ProbeError("kubectl get \(kind) did not return JSON")
        }
        return object["items"] as? [[String: Any]] ?? []
    }

    static func classify(_ stderr: String) -> ProbeError {
        let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        let line = text.split(separator: "\n").last.map(String.init) ?? text
        if text.contains("Forbidden") || text.contains("forbidden") {
            return ProbeError("forbidden: the credential may not read this — \(line.prefix(300))")
        }
        if text.contains("Unauthorized") || text.contains("You must be logged in") {
            return ProbeError("the Kubernetes API rejected the credential (unauthorized)")
        }
        if text.contains("connection refused") || text.contains("Unable to connect") || text.contains("no such host") || text.contains("i/o timeout") || text.contains("dial tcp") {
            return ProbeError("cannot reach the Kubernetes API: \(line.prefix(300))")
        }
        return ProbeError("kubectl failed: \(line.prefix(300))")
    }

    var namespaces: [String] { context.strings("namespaces").isEmpty ? ["default"] : context.strings("namespaces") }
}

/// Small accessors for Kubernetes JSON.
extension Dictionary where Key == String, Value == Any {
    func map(_ key: String) -> [String: Any] { self[key] as? [String: Any] ?? [:] }
    func list(_ key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
    func string(_ key: String) -> String? { self[key] as? String }
    func int(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
    var name: String { map("metadata").string("name") ?? "?" }
    var namespace: String { map("metadata").string("namespace") ?? "" }
}
