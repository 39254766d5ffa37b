import DiagnosisModel
import Foundation

/// Runs the `aws` CLI with the job's credential in its environment only, JSON output, bounded
/// retries, the configured region and (optionally) endpoint.
struct AWSCLI {
    let context: ProbeContext

    var region: String { context.string("region") ?? "us-east-1" }

    /// The tool's environment: the credential fields, and nothing from the host's AWS config.
    var environment: [String: String] {
        var env = [
            "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
            "AWS_MAX_ATTEMPTS": String(context.int("max_attempts") ?? 2), "AWS_RETRY_MODE": "standard",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "",
        ]
        // An internal CA (tls.ca_file) is trusted besides the system's roots.
        if let caFile = context.string("ca_file"), let bundle = CABundle.combined(with: caFile) { env["AWS_CA_BUNDLE"] = bundle }
        if let credential = context.credential {
            if let key = credential.field("aws_access_key_id", "access_key_id", "access key id", "username") { env["AWS_ACCESS_KEY_ID"] = key }
            if let secret = credential.field("aws_secret_access_key", "secret_access_key", "secret access key", "password", "credential") { env["AWS_SECRET_ACCESS_KEY"] = secret }
            if let token = credential.field("aws_session_token", "session_token", "session token") { env["AWS_SESSION_TOKEN"] = token }
        }
        return env
    }

    enum Failure: Error {
        case expired(String)
        case other(String)
    }

    /// Runs `aws <arguments> --output json` and parses the JSON answer.
    func call(_ arguments: [String]) async throws -> [String: Any] {
        var full = arguments + ["--output", "json", "--region", region]
        if let endpoint = context.string("endpoint_url") { full += ["--endpoint-url", endpoint] }
        let result: ToolResult
        do {
            result = try await context.tools.run("aws", full, environment: environment, timeout: context.remaining)
        } catch let error as ProbeError {
            throw ProbeError(error.message.contains("not installed") ? "the aws CLI is not installed on the daemon host (pip install awscli, or the AWS CLI v2 package)" : error.message)
        }
        guard result.exitCode == 0 else { throw Self.classify(result.stderrText, operation: arguments.prefix(2).joined(separator: " ")) }
        guard !result.stdout.isEmpty else { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: result.stdout) as? [String: Any] else {
            throw ProbeError("aws \(arguments.prefix(2).joined(separator: " ")) did not return JSON")
        }
        return object
    }

    /// Turns the CLI's error text into a clear, secret-free failure.
    static func classify(_ stderr: String, operation: String) -> any Error {
        let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        let line = text.split(separator: "\n").last.map(String.init) ?? text
        if text.contains("ExpiredToken") || text.contains("RequestExpired") || text.contains("security token included in the request is expired") {
            return Failure.expired("the AWS credentials have expired (\(operation))")
        }
        if text.contains("AccessDenied") || text.contains("UnauthorizedOperation") || text.contains("not authorized to perform") {
            return ProbeError("access denied for \(operation): the credential lacks this read permission — \(line.prefix(300))")
        }
        if text.contains("InvalidClientTokenId") || text.contains("UnrecognizedClientException") || text.contains("SignatureDoesNotMatch") || text.contains("Unable to locate credentials") {
            return ProbeError("the AWS credentials are not valid for \(operation) — \(line.prefix(200))")
        }
        if text.contains("Throttling") || text.contains("Rate exceeded") || text.contains("TooManyRequests") {
            return ProbeError("AWS throttled \(operation) after retries; try again shortly")
        }
        if text.contains("Could not connect to the endpoint URL") || text.contains("Connect timeout") {
            return ProbeError("cannot reach the AWS endpoint for \(operation): \(line.prefix(200))")
        }
        return ProbeError("aws \(operation) failed: \(line.prefix(300))")
    }

    /// Reports an expired credential as a finding (it is a cause in itself); rethrows the rest.
    static func run(_ context: ProbeContext, _ body: (AWSCLI) async throws -> Void) async throws {
        do {
            try await body(AWSCLI(context: context))
        } catch Failure.expired(let message) {
            await context.report(FindingDraft(
                code: .credExpired, severity: .high, target: context.credential?.reference ?? "aws",
                title: "AWS credentials have expired", detail: message,
                remediation: "Refresh the temporary credentials behind \(context.credential?.reference ?? "the AWS credential") (re-issue the session token or rotate the access key).",
                tags: ["auth"]
            ))
        } catch Failure.other(let message) {
            throw ProbeError(message)
        }
    }
}
