import DiagnosisModel
import Foundation
import NIOSSL
import OutboundHTTP

/// The few Kubernetes API calls the Job launcher makes (a Job: create, read, delete; its token's
/// Secret: create, own, delete), over the daemon's own HTTPS client: the API server is verified
/// against the cluster's CA only, when there is one. (It ran curl once per call: a process per
/// call, started from the daemon, and an environment to keep the daemon's secrets out of.)
struct KubernetesAPI: Sendable {
    /// `https://HOST:PORT` of the API server.
    let server: String
    let token: String
    var timeout: Duration = .seconds(10)
    private let client: OutboundHTTPClient

    /// - Parameter caPEM: the cluster's CA, the only root trusted for the API server; nil: the
    ///   system's roots.
    init(server: String, token: String, caPEM: String?) throws {
        self.server = server
        self.token = token
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caPEM {
            let roots = try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8))
            guard !roots.isEmpty else { throw Failure(status: nil, message: "the cluster CA holds no PEM certificate") }
            tls.trustRoots = .certificates(roots)
        }
        client = OutboundHTTPClient(tls: tls)
    }

    struct Failure: Error, CustomStringConvertible {
        let status: Int?
        let message: String
        var description: String { status.map { "Kubernetes API \($0): \(message)" } ?? "Kubernetes API: \(message)" }
    }

    /// The service account a pod runs as, when the daemon runs in a cluster.
    static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Creates the Job; returns its uid (what an owner reference names).
    func createJob(_ job: KubernetesJob) async throws -> String? {
        let created = try await call(.post, "/apis/batch/v1/namespaces/\(job.metadata.namespace)/jobs", body: try JSONEncoder().encode(job))
        return created.objectValue?["metadata"]?.objectValue?["uid"]?.stringValue
    }

    func createSecret(_ secret: KubernetesSecret) async throws {
        _ = try await call(.post, "/api/v1/namespaces/\(secret.metadata.namespace)/secrets", body: try JSONEncoder().encode(secret))
    }

    /// Makes the Job the Secret's owner: Kubernetes' garbage collector then deletes the Secret
    /// with the Job, even when this daemon is gone by then.
    func setOwner(ofSecret name: String, namespace: String, job: String, uid: String) async throws {
        let owner: JSONValue = .object(["metadata": .object(["ownerReferences": .array([.object([
            "apiVersion": .string("batch/v1"), "kind": .string("Job"), "name": .string(job), "uid": .string(uid),
        ])])])])
        _ = try await call(
            .patch, "/api/v1/namespaces/\(namespace)/secrets/\(name)",
            body: try JSONEncoder().encode(owner), contentType: "application/merge-patch+json"
        )
    }

    /// Deletes the Secret; one already gone is fine.
    func deleteSecret(_ name: String, namespace: String) async throws {
        do {
            _ = try await call(.delete, "/api/v1/namespaces/\(namespace)/secrets/\(name)")
        } catch let failure as Failure where failure.status == 404 {
            return
        }
    }

    /// The Job, or nil when it does not exist (deleted, or cleaned up after finishing).
    func job(_ name: String, namespace: String) async throws -> JSONValue? {
        do {
            return try await call(.get, "/apis/batch/v1/namespaces/\(namespace)/jobs/\(name)")
        } catch let failure as Failure where failure.status == 404 {
            return nil
        }
    }

    /// Deletes the Job and (in the background) its pods; a Job already gone is fine.
    func deleteJob(_ name: String, namespace: String) async throws {
        do {
            _ = try await call(.delete, "/apis/batch/v1/namespaces/\(namespace)/jobs/\(name)?propagationPolicy=Background")
        } catch let failure as Failure where failure.status == 404 {
            return
        }
    }

    private func call(_ method: OutboundRequest.Method, _ path: String, body: Data? = nil, contentType: String = "application/json") async throws -> JSONValue {
        guard let url = URL(string: server + path) else { throw Failure(status: nil, message: "not a URL: \(server)\(path)") }
        var headers: [(name: String, value: String)] = [("Authorization", "Bearer \(token)"), ("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", contentType)) }
        let answer: OutboundResponse
        do {
            answer = try await client.send(OutboundRequest(method, url, headers: headers, body: body, timeout: timeout))
        } catch {
            throw Failure(status: nil, message: "\(server): \(error)")
        }
        let json = try? JSONCoding.decoder().decode(JSONValue.self, from: answer.body)
        guard (200..<300).contains(answer.status) else {
            throw Failure(status: answer.status, message: json?.objectValue?["message"]?.stringValue ?? String(decoding: answer.body.prefix(500), as: UTF8.self))
        }
        return json ?? .null
    }
}
