import DiagnosisModel
import Foundation

/// `command`: a user-defined check (playbooks). Runs a command with credential fields mapped into
/// its environment, and turns the exit code, a regex match or a JSON value into a finding.
public struct CommandProbe: Probe {
    public static let name = "command"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        guard let command = context.string("command") else { throw ProbeError("command probe without \"command\"") }
        var environment: [String: String] = [:]
        if case .object(let mapping) = context.request.params["env"] ?? .null {
            for (field, variable) in mapping {
                guard let variable = variable.stringValue else { continue }
                guard let value = context.credential?.field(field) else {
                    throw ProbeError("credential field \"\(field)\" (for \(variable)) is not available")
                }
                environment[variable] = value
            }
        }
        let result = try await context.tools.run(command, context.strings("args"), environment: environment, timeout: context.remaining)
        let output = result.stdoutText + result.stderrText
        let okCodes = context.request.params["ok_exit_codes"]?.arrayValue?.compactMap(\.intValue) ?? [0]

        var failure: String?
        if result.timedOut {
            failure = "timed out after \(result.duration.milliseconds) ms"
        } else if let code = result.exitCode, !okCodes.contains(Int(code)) {
            failure = "exit code \(code)"
        } else if let signal = result.signal {
            failure = "killed by signal \(signal)"
        } else if let pattern = context.string("fail_regex"), output.range(of: pattern, options: .regularExpression) != nil {
            failure = "output matches /\(pattern)/"
        } else if let path = context.string("json_path") {
            guard (try? JSONSerialization.jsonObject(with: result.stdout, options: [.fragmentsAllowed])) != nil else {
                throw ProbeError("stdout of \(command) is not JSON: \(result.stdoutText.prefix(200))")
            }
            let value = JSONPath.lookup(path, in: result.stdout)
            if let expected = context.string("expect"), value != expected {
                failure = "\(path) is \(value ?? "missing"), expected \(expected)"
            }
        }

        let tail = output.split(separator: "\n").suffix(20).joined(separator: "\n")
        let label = context.target
        if failure != nil, let firstError = result.stderrText.split(separator: "\n").first {
            await context.log(.warning, "\(command) stderr: \(firstError.prefix(500))")
        }
        if let failure {
            await context.report(FindingDraft(
                code: context.string("code").map(FindingCode.init(rawValue:)) ?? .commandFailed,
                severity: context.string("severity").flatMap(Severity.init(rawValue:)) ?? .high,
                target: label,
                title: context.string("title") ?? "\(label): \(failure)",
                detail: "\(([command] + context.strings("args")).joined(separator: " ")) — \(failure).",
                evidence: [.text("output (last lines)", tail)],
                remediation: context.string("remediation") ?? ""
            ))
        } else {
            await context.report(FindingDraft(
                code: context.string("ok_code").map(FindingCode.init(rawValue:)) ?? .commandOK, severity: .ok, target: label,
                title: "\(label): check passed",
                detail: "\(command) finished with exit code \(result.exitCode ?? 0) in \(result.duration.milliseconds) ms.",
                evidence: tail.isEmpty ? [] : [.text("output (last lines)", tail)]
            ))
        }
    }
}

/// Dot paths into JSON (`items.0.status`), returning the value as text.
public enum JSONPath {
    public static func lookup(_ path: String, in data: Data) -> String? {
        guard var current = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        for key in path.split(separator: ".") {
            if let dictionary = current as? [String: Any], let next = dictionary[String(key)] {
                current = next
            } else if let array = current as? [Any], let index = Int(key), array.indices.contains(index) {
                current = array[index]
            } else {
                return nil
            }
        }
        switch current {
        case let string as String: return string
        case let number as NSNumber: return number.stringValue
        case is NSNull: return "null"
        default:
            guard let data = try? JSONSerialization.data(withJSONObject: current, options: [.sortedKeys]) else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
    }
}
