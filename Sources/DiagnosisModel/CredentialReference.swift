/// A reference to a secret — what a human approves. The secret value itself never appears in
/// this type.
///
/// - `op://vault/item[/section]/field[?attribute=…]` — one 1Password field (names are
///   case-insensitive); `op://vault/item` — every field of the item, by label (how a database
///   login or an AWS key pair is usually stored)
/// - `cred://NAME` — systemd credential (`$CREDENTIALS_DIRECTORY/NAME`)
/// - `env://NAME` — environment variable of the daemon (development only)
/// - `file:///absolute/path` — file on the daemon host (development only)
public enum CredentialReference: Hashable, Sendable, CustomStringConvertible {
    case onePassword(OnePasswordReference)
    case systemd(name: String)
    case environment(name: String)
    case file(path: String)

    public struct OnePasswordReference: Hashable, Sendable {
        public var vault: String
        public var item: String
        public var section: String?
        /// nil for an item-level reference (all fields).
        public var field: String?
        /// `?attribute=` (e.g. `otp`, `type`); nil means the value.
        public var attribute: String?
    }

    /// Attributes 1Password secret references accept after `?attribute=`.
    public static let onePasswordAttributes: Set<String> = ["value", "type", "id", "purpose", "label", "title", "otp"]

    public init(parsing text: String) throws(CredentialReferenceError) {
        func fail(_ reason: String) -> CredentialReferenceError { CredentialReferenceError(reference: text, reason: reason) }
        if text.hasPrefix("op://") {
            var body = Substring(text.dropFirst(5))
            var attribute: String?
            if let question = body.firstIndex(of: "?") {
                let query = body[body.index(after: question)...]
                body = body[..<question]
                let parts = query.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0] == "attribute" else {
                    throw fail("the only query 1Password references take here is ?attribute=<\(Self.onePasswordAttributes.sorted().joined(separator: "|"))>")
                }
                let name = parts[1].lowercased()
                guard Self.onePasswordAttributes.contains(name) else {
                    throw fail("unknown attribute \"\(parts[1])\"; expected one of \(Self.onePasswordAttributes.sorted().joined(separator: ", "))")
                }
                attribute = name == "value" ? nil : name
            }
            let segments = body.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard (2...4).contains(segments.count) else {
                throw fail("expected op://vault/item, op://vault/item/field or op://vault/item/section/field")
            }
            if segments.count == 2, attribute != nil {
                throw fail("?attribute= needs a field: op://vault/item/field?attribute=…")
            }
            for (index, segment) in segments.enumerated() {
                let what = ["vault", "item", segments.count == 4 ? "section" : "field", "field"][index]
                guard !segment.isEmpty else { throw fail("the \(what) name is empty") }
                guard segment.allSatisfy(Self.isOnePasswordNameCharacter) else {
                    throw fail("the \(what) name \"\(segment)\" has characters 1Password references do not allow (use letters, digits, space, - _ . or the item's ID)")
                }
                guard segment.trimmingCharacters(in: .whitespaces) == segment else {
                    throw fail("the \(what) name \"\(segment)\" starts or ends with a space")
                }
                guard !segment.hasPrefix("-") else {
                    throw fail("the \(what) name \"\(segment)\" starts with '-' (it would read as an option of the op command)")
                }
            }
            self = .onePassword(OnePasswordReference(
                vault: segments[0], item: segments[1],
                section: segments.count == 4 ? segments[2] : nil,
                field: segments.count >= 3 ? segments[segments.count - 1] : nil, attribute: attribute
            ))
        } else if text.hasPrefix("cred://") {
            let name = String(text.dropFirst(7))
            guard !name.isEmpty, name != ".", name != "..", name.count <= 255, !name.hasPrefix("-"),
                  name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-@".contains($0)) })
            else { throw fail("a systemd credential name uses letters, digits and _ . - @ only") }
            self = .systemd(name: name)
        } else if text.hasPrefix("env://") {
            let name = String(text.dropFirst(6))
            guard let first = name.first, first == "_" || (first.isASCII && first.isLetter),
                  name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) })
            else { throw fail("an environment variable name uses letters, digits and _ and does not start with a digit") }
            self = .environment(name: name)
        } else if text.hasPrefix("file://") {
            let path = String(text.dropFirst(7))
            guard path.hasPrefix("/") else { throw fail("a file reference needs an absolute path: file:///path/to/secret") }
            guard !path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else { throw fail("a file reference may not contain . or .. components") }
            self = .file(path: path)
        } else {
            throw fail("unknown scheme; expected op://, cred://, env:// or file://")
        }
    }

    private static func isOnePasswordNameCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || " -_.".contains(character))
    }

    /// The scheme, e.g. `op`, `cred`.
    public var scheme: String {
        switch self {
        case .onePassword: "op"
        case .systemd: "cred"
        case .environment: "env"
        case .file: "file"
        }
    }

    /// The canonical text form. 1Password names compare case-insensitively, so they are
    /// lower-cased here; two spellings of one reference are one approval.
    public var description: String {
        switch self {
        case .onePassword(let ref):
            var text = "op://\(ref.vault)/\(ref.item)"
            if let section = ref.section { text += "/\(section)" }
            if let field = ref.field { text += "/\(field)" }
            if let attribute = ref.attribute { text += "?attribute=\(attribute)" }
            return text
        case .systemd(let name): return "cred://\(name)"
        case .environment(let name): return "env://\(name)"
        case .file(let path): return "file://\(path)"
        }
    }

    /// Key used to decide whether two references name the same secret.
    public var canonicalKey: String {
        if case .onePassword = self { return description.lowercased() }
        return description
    }
}

extension CredentialReference: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try CredentialReference(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a credential reference is malformed.
public struct CredentialReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reference: String
    public let reason: String
    public var description: String { "invalid credential reference \"\(reference)\": \(reason)" }
}

import Foundation
