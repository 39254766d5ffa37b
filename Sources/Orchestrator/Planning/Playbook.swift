import DiagnosisModel
import Foundation
import Yams

/// A playbook: which problems it is for (phrases, context keys) and what to examine then.
public struct Playbook: Codable, Sendable, Equatable {
    public struct Match: Codable, Sendable, Equatable {
        public var phrases: [String]
        public var context: [String]?
    }

    public struct DomainSelection: Codable, Sendable, Equatable {
        public var probes: [String]
        /// Parameters merged into those probes (thresholds, checks).
        public var params: [String: JSONValue]?
    }

    public var name: String
    public var summary: String?
    public var match: Match
    public var domains: [String: DomainSelection]
    /// Command probes for tools the built-ins do not cover.
    public var checks: [PlaybookCheck]?

    /// Parses and validates one playbook file.
    public static func parse(_ yaml: String, source: String) throws -> Playbook {
        let known: Set<String> = ["name", "summary", "match", "domains", "checks"]
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: yaml)
        } catch {
            throw PlaybookError(source: source, reason: "not valid YAML: \(error)")
        }
        if let top = parsed as? [String: Any] {
            for key in top.keys where !known.contains(key) {
                throw PlaybookError(source: source, reason: "unknown key \"\(key)\" (known: \(known.sorted().joined(separator: ", ")))")
            }
        }
        let playbook: Playbook
        do {
            playbook = try YAMLDecoder().decode(Playbook.self, from: yaml)
        } catch {
            throw PlaybookError(source: source, reason: "\(error)")
        }
        for domain in playbook.domains.keys where Domain(rawValue: domain) == nil {
            throw PlaybookError(source: source, reason: "unknown domain \"\(domain)\" (known: \(Domain.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        for (domain, selection) in playbook.domains {
            for probe in selection.probes where ProbeCatalog.info(probe) == nil {
                throw PlaybookError(source: source, reason: "domains.\(domain): unknown probe \"\(probe)\"")
            }
        }
        for check in playbook.checks ?? [] {
            guard Domain(rawValue: check.domain) != nil else { throw PlaybookError(source: source, reason: "check \(check.name): unknown domain \(check.domain)") }
            if let credential = check.credential {
                do { _ = try CredentialReference(parsing: credential) } catch { throw PlaybookError(source: source, reason: "check \(check.name): \(error.description)") }
            }
        }
        guard !playbook.name.isEmpty, !playbook.match.phrases.isEmpty || !(playbook.match.context ?? []).isEmpty else {
            throw PlaybookError(source: source, reason: "a playbook needs a name and match.phrases or match.context")
        }
        return playbook
    }
}

/// A user-defined command check declared in a playbook.
public struct PlaybookCheck: Codable, Sendable, Equatable {
    public var name: String
    public var domain: String
    public var command: String
    public var args: [String]?
    public var credential: String?
    public var env: [String: String]?
    public var timeout_s: Double?
    public var code: String?
    public var severity: String?
    public var title: String?
    public var remediation: String?
    public var fail_regex: String?
    public var json_path: String?
    public var expect: String?
    public var ok_exit_codes: [Int]?

    var commandCheck: CommandCheck? {
        guard let domain = Domain(rawValue: domain) else { return nil }
        var options: [String: JSONValue] = [:]
        for (key, value) in [("code", code), ("severity", severity), ("title", title), ("remediation", remediation), ("fail_regex", fail_regex), ("json_path", json_path), ("expect", expect)] {
            if let value { options[key] = .string(value) }
        }
        if let codes = ok_exit_codes { options["ok_exit_codes"] = .array(codes.map { .number(Double($0)) }) }
        return CommandCheck(name: name, domain: domain, command: command, args: args ?? [], credential: credential,
                            env: (env ?? [:]).reduce(into: [:]) { $0[$1.key.lowercased()] = $1.value }, timeoutSeconds: timeout_s, options: options)
    }
}

public struct PlaybookError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let reason: String
    public var description: String { "\(source): \(reason)" }
}

/// Built-in playbooks plus the user's, by name (a user playbook replaces a built-in of the same name).
public struct PlaybookLibrary: Sendable {
    public let playbooks: [Playbook]
    /// User playbooks that replace a built-in of the same name (file → name): an explicit
    /// override the daemon logs, never a silent shadow.
    public let overrides: [(source: String, name: String)]

    public init(playbooks: [Playbook], overrides: [(source: String, name: String)] = []) {
        self.playbooks = playbooks
        self.overrides = overrides
    }

    /// The built-ins (config/playbooks, compiled in) and every `*.yaml` in `directories`.
    public static func load(directories: [String]) throws -> PlaybookLibrary {
        var byName: [String: Playbook] = [:]
        var order: [String] = []
        var overrides: [(source: String, name: String)] = []
        func add(_ playbook: Playbook) {
            if byName[playbook.name] == nil { order.append(playbook.name) }
            byName[playbook.name] = playbook
        }
        for (file, text) in BuiltinPlaybooks.files.sorted(by: { $0.key < $1.key }) {
            add(try Playbook.parse(text, source: "built-in \(file)"))
        }
        let builtIn = Set(byName.keys)
        for directory in directories {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
                throw PlaybookError(source: directory, reason: "cannot read the playbook directory")
            }
            for file in files.sorted() where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                let path = "\(directory)/\(file)"
                let text = try String(contentsOfFile: path, encoding: .utf8)
                let playbook = try Playbook.parse(text, source: path)
                if builtIn.contains(playbook.name) { overrides.append((path, playbook.name)) }
                add(playbook)
            }
        }
        return PlaybookLibrary(playbooks: order.compactMap { byName[$0] }, overrides: overrides)
    }
}
