import DiagnosisModel
import Foundation

extension DaemonConfig {
    /// `intake`: where alerts come in.
    public struct Intake: Sendable {
        public var alertmanager: Alertmanager?

        /// `intake.alertmanager`: the webhook Alertmanager (and Grafana) post to.
        public struct Alertmanager: Sendable {
            /// Bearer tokens accepted (`authorization: {credentials_file: …}` in Alertmanager).
            public var tokens: [CredentialReference] = []
            /// Basic auth as Alertmanager's `basic_auth` sends it.
            public var basicAuth: BasicAuth?
            public var routes: [Route] = []
            /// A repeat notification of a group within this window joins its session.
            public var dedupeWindow: Duration = .seconds(1800)
            /// New sessions from alerts per minute; the rest are attached to their route's newest session.
            public var maxSessionsPerMinute = 30
        }

        public struct BasicAuth: Sendable {
            public var username: String
            public var password: CredentialReference
        }

        /// Label matchers → environment, context and problem text.
        public struct Route: Sendable {
            public var name: String
            /// Labels that must have exactly these values.
            public var match: [String: String] = [:]
            /// Labels whose values must match these regular expressions (whole value).
            public var matchRegex: [String: String] = [:]
            public var environment: String
            /// Labels copied into the session's context.
            public var contextLabels: [String] = ["service", "namespace", "instance", "job", "alertname"]
            /// `{alertname}`, `{summary}`, `{labels.X}`, `{annotations.X}`; default "{alertname}: {summary}".
            public var problem: String = "{alertname}: {summary}"
            /// Standing approvals (`approval.standing` names) its sessions may use unattended.
            public var standingApprovals: [String] = []
        }
    }

    /// `notifications`: where approval requests and reports are sent.
    public struct Notifications: Sendable {
        /// How people reach the dashboard (links in messages); default the first TCP listener.
        public var publicURL: String?
        public var sinks: [Sink] = []
        public var retryInitial: Duration = .seconds(1)
        public var retryMax: Duration = .seconds(300)
        /// A delivery still failing after this long is given up (with a session event saying so).
        public var giveUpAfter: Duration = .seconds(86400)

        public struct Sink: Sendable {
            public enum Kind: String, Sendable, CaseIterable { case webhook, slack }
            public var name: String
            public var kind: Kind
            /// The URL, or a credential reference whose value is the URL (Slack's incoming webhook).
            public var url: String?
            public var urlCredential: CredentialReference?
            /// HMAC-SHA256 key for the signature header (webhook).
            public var secret: CredentialReference?
            public var events: Set<NotificationKind> = Set(NotificationKind.allCases)
            /// This sink's own give-up horizon (a best-effort chat channel may give up sooner).
            public var giveUpAfter: Duration?
        }
    }
}

/// What a notification is about.
public enum NotificationKind: String, Sendable, Codable, CaseIterable {
    case approvalRequested = "approval_requested"
    case completed
    case failed
}

enum IntakeConfigParser {
    static func intake(_ reader: ConfigReader, environments: Set<String>?) throws(ConfigError) -> DaemonConfig.Intake {
        var intake = DaemonConfig.Intake()
        if let am = try reader.mapping("alertmanager") {
            var config = DaemonConfig.Intake.Alertmanager()
            for (index, text) in (try am.strings("tokens") ?? []).enumerated() {
                do {
                    let reference = try CredentialReference(parsing: text)
                    guard reference.scheme != "op" else { throw am.error("tokens", "intake tokens are read at start-up from cred://, file:// or env://") }
                    config.tokens.append(reference)
                } catch let error as ConfigError {
                    throw error
                } catch {
                    throw am.error("tokens", "[\(index)]: \((error as? CredentialReferenceError)?.reason ?? "not a credential reference")")
                }
            }
            if let basic = try am.mapping("basic_auth") {
                guard let username = try basic.string("username") else { throw basic.error("username", "basic_auth needs a username") }
                guard let password = try ConfigLoader.reference(basic, "password") else { throw basic.error("password", "basic_auth needs a password reference") }
                config.basicAuth = .init(username: username, password: password)
                try basic.finish()
            }
            guard !config.tokens.isEmpty || config.basicAuth != nil else {
                throw am.error("tokens", "the webhook needs tokens or basic_auth: an unauthenticated endpoint would let anyone start diagnoses")
            }
            config.dedupeWindow = try am.duration("dedupe_window", in: .seconds(0)...(.seconds(86400))) ?? config.dedupeWindow
            config.maxSessionsPerMinute = try am.int("max_sessions_per_minute", in: 1...10000) ?? config.maxSessionsPerMinute
            for (index, entry) in try am.mappings("routes").enumerated() {
                guard let environment = try entry.string("environment") else { throw entry.error("environment", "every route names an environment") }
                if let environments, !environments.contains(environment) {
                    throw entry.error("environment", "no environment \"\(environment)\"; known: \(environments.sorted().joined(separator: ", "))")
                }
                var route = DaemonConfig.Intake.Route(name: try entry.string("name") ?? "route-\(index + 1)", environment: environment)
                route.match = try labels(entry, "match")
                route.matchRegex = try labels(entry, "match_re")
                for (label, pattern) in route.matchRegex where (try? NSRegularExpression(pattern: "^(?:\(pattern))$")) == nil {
                    throw entry.error("match_re", "\(label): \"\(pattern)\" is not a regular expression")
                }
                route.contextLabels = try entry.strings("context_labels") ?? route.contextLabels
                route.problem = try entry.string("problem") ?? route.problem
                route.standingApprovals = try entry.strings("standing_approvals") ?? []
                try entry.finish()
                config.routes.append(route)
            }
            try am.finish()
            intake.alertmanager = config
        }
        try reader.finish()
        return intake
    }

    static func labels(_ reader: ConfigReader, _ key: String) throws(ConfigError) -> [String: String] {
        guard let mapping = try reader.mapping(key) else { return [:] }
        var result: [String: String] = [:]
        for label in mapping.keys {
            guard let value = try mapping.string(label) else { continue }
            result[label] = value
        }
        try mapping.finish()
        return result
    }

    static func notifications(_ reader: ConfigReader) throws(ConfigError) -> DaemonConfig.Notifications {
        var notifications = DaemonConfig.Notifications()
        if let url = try reader.string("public_url") {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw reader.error("public_url", "expected the dashboard's http(s) URL, e.g. https://sre-diagnose.internal")
            }
            notifications.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        if let retry = try reader.mapping("retry") {
            notifications.retryInitial = try retry.duration("initial", in: .milliseconds(10)...(.seconds(3600))) ?? notifications.retryInitial
            notifications.retryMax = try retry.duration("max", in: .milliseconds(10)...(.seconds(86400))) ?? notifications.retryMax
            notifications.giveUpAfter = try retry.duration("give_up_after", in: .seconds(1)...(.seconds(30 * 86400))) ?? notifications.giveUpAfter
            try retry.finish()
        }
        var names: Set<String> = []
        for entry in try reader.mappings("sinks") {
            guard let name = try entry.string("name"), !name.isEmpty else { throw entry.error("name", "every sink needs a name") }
            guard names.insert(name).inserted else { throw entry.error("name", "\"\(name)\" is used twice") }
            guard let kindText = try entry.string("type", oneOf: DaemonConfig.Notifications.Sink.Kind.allCases.map(\.rawValue)),
                  let kind = DaemonConfig.Notifications.Sink.Kind(rawValue: kindText) else {
                throw entry.error("type", "every sink needs a type: webhook or slack")
            }
            var sink = DaemonConfig.Notifications.Sink(name: name, kind: kind)
            sink.url = try entry.string("url")
            sink.urlCredential = try ConfigLoader.reference(entry, "url_credential")
            sink.secret = try ConfigLoader.reference(entry, "secret")
            sink.giveUpAfter = try entry.duration("give_up_after", in: .seconds(1)...(.seconds(30 * 86400)))
            if let url = sink.url, URL(string: url)?.scheme.map({ ["http", "https"].contains($0) }) != true {
                throw entry.error("url", "expected an http(s) URL")
            }
            guard (sink.url == nil) != (sink.urlCredential == nil) else {
                throw entry.error("url", "give either url or url_credential (a Slack webhook URL is a secret: use url_credential)")
            }
            if let events = try entry.strings("events") {
                var kinds: Set<NotificationKind> = []
                for event in events {
                    guard let kind = NotificationKind(rawValue: event) else {
                        throw entry.error("events", "unknown event \"\(event)\"; known: \(NotificationKind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    kinds.insert(kind)
                }
                sink.events = kinds
            }
            try entry.finish()
            notifications.sinks.append(sink)
        }
        try reader.finish()
        return notifications
    }
}
