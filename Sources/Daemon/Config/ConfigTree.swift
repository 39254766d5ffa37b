import Yams

/// A parsed configuration value that remembers where it came from, so every error can name the
/// file, line and key.
indirect enum ConfigValue: Sendable {
    case map([(key: String, value: ConfigValue)], Origin)
    case list([ConfigValue], Origin)
    case scalar(String, Origin)
    case null(Origin)

    struct Origin: Sendable {
        var source: String
        var line: Int?
    }

    var origin: Origin {
        switch self {
        case .map(_, let origin), .list(_, let origin), .scalar(_, let origin), .null(let origin): origin
        }
    }

    var kindName: String {
        switch self {
        case .map: "a mapping"
        case .list: "a list"
        case .scalar(let text, _): "\"\(text)\""
        case .null: "nothing"
        }
    }

    /// Parses YAML text. Syntax errors become a `ConfigError` with the line.
    static func parse(yaml: String, source: String) throws(ConfigError) -> ConfigValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError(source: source, key: "", reason: "not valid YAML: \(error)")
        } catch {
            throw ConfigError(source: source, key: "", reason: "not valid YAML: \(error)")
        }
        guard let node else { return .map([], Origin(source: source, line: nil)) }
        return try convert(node, source: source, path: "")
    }

    private static func convert(_ node: Node, source: String, path: String) throws(ConfigError) -> ConfigValue {
        let origin = Origin(source: source, line: node.mark?.line)
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                return .null(origin)
            }
            return .scalar(scalar.string, origin)
        case .sequence(let sequence):
            var items: [ConfigValue] = []
            for (index, item) in sequence.enumerated() {
                items.append(try convert(item, source: source, path: "\(path)[\(index)]"))
            }
            return .list(items, origin)
        case .mapping(let mapping):
            var pairs: [(key: String, value: ConfigValue)] = []
            for (keyNode, valueNode) in mapping {
                guard let key = keyNode.scalar?.string else {
                    throw ConfigError(source: source, key: path, reason: "keys must be plain strings", line: origin.line)
                }
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if pairs.contains(where: { $0.key == key }) {
                    throw ConfigError(source: source, key: childPath, reason: "duplicate key", line: keyNode.mark?.line)
                }
                pairs.append((key, try convert(valueNode, source: source, path: childPath)))
            }
            return .map(pairs, origin)
        case .alias:
            throw ConfigError(source: source, key: path, reason: "YAML aliases are not supported", line: origin.line)
        }
    }

    /// Returns a copy with `value` set at `path` (creating mappings on the way), used for
    /// `SRE_DIAGNOSE_*` environment overrides.
    func setting(_ path: ArraySlice<String>, to value: ConfigValue) -> ConfigValue {
        guard let key = path.first else { return value }
        var pairs: [(key: String, value: ConfigValue)] = []
        var origin = value.origin
        if case .map(let existing, let existingOrigin) = self {
            pairs = existing
            origin = existingOrigin
        }
        if let index = pairs.firstIndex(where: { $0.key == key }) {
            pairs[index].value = pairs[index].value.setting(path.dropFirst(), to: value)
        } else {
            pairs.append((key, ConfigValue.null(value.origin).setting(path.dropFirst(), to: value)))
        }
        return .map(pairs, origin)
    }
}
