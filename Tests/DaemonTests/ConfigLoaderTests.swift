@testable import Daemon
import DiagnosisModel
import Testing
import Orchestrator
import TestSupport

@Suite struct ConfigLoaderTests {
    @Test func defaultsApplyWithoutAFile() throws {
        let config = try ConfigLoader.load(path: nil, environment: [:])
        #expect(config.server.listen == [.tcp(host: "127.0.0.1", port: 32100)])
        #expect(config.server.maxBodyBytes == 65536)
        #expect(config.runners.maxConcurrent == 8)
        #expect(config.runners.deadline == .seconds(60))
        #expect(config.approval.timeout == .seconds(600))
        #expect(config.environments.keys.sorted() == ["local"])
    }

    @Test func designExampleParses() throws {
        let yaml = """
            server:
              listen: ["127.0.0.1:32100", "unix:/run/sre-diagnose/api.sock"]
              max_body_bytes: 65536
            runners: {max_concurrent: 4, deadline: 90s}
            approval: {timeout: 10m}
            auth:
              approvers:
                - {name: alice, token: cred://approver-alice}
              requesters: []
              unix_socket_approver_group: sre-approvers
            secrets:
              onepassword: {mode: cli, service_account_token: cred://op-service-account}
              allow_env_refs: false
              allow_file_refs: false
            llm: {provider: none}
            environments:
              local: {network: {endpoints: ["tcp://127.0.0.1:5432"]}, host: {}, logs: {journald: {units: []}}}
              prod:
                database:
                  - {name: orders-db, engine: postgres, host: orders-db.prod.internal, port: 5432,
                     database: orders, credential: "op://Infrastructure/prod-db/password", tls: prefer}
                cloud:
                  aws: {region: us-west-2, credential: "op://Infrastructure/aws-readonly/credentials"}
                kubernetes:
                  {kubeconfig_credential: "op://Infrastructure/prod-kubeconfig/config", context: prod, namespaces: [api]}
                logs:
                  journald: {units: [api-gateway.service], lookback: 30m}
                  files: ["/var/log/api-gateway/*.log"]
                network:
                  endpoints: ["https://api.example.com/healthz", "tcp://orders-db.prod.internal:5432"]
            """
        let config = try ConfigLoader.load(yaml: yaml)
        #expect(config.server.listen == [.tcp(host: "127.0.0.1", port: 32100), .unix(path: "/run/sre-diagnose/api.sock")])
        #expect(config.runners.maxConcurrent == 4)
        #expect(config.runners.deadline == .seconds(90))
        #expect(config.auth.approvers == [.init(name: "alice", token: .systemd(name: "approver-alice"))])
        #expect(config.secrets.onePasswordMode == .cli)
        let prod = try #require(config.environments["prod"])
        #expect(prod.databases.first?.name == "orders-db")
        #expect(prod.databases.first?.credential == "op://Infrastructure/prod-db/password")
        #expect(prod.aws?.region == "us-west-2")
        #expect(prod.kubernetes?.namespaces == ["api"])
        #expect(prod.logs?.journaldUnits == ["api-gateway.service"])
        #expect(prod.logs?.lookbackSeconds == 1800)
        #expect(prod.domains == [.database, .cloud, .kubernetes, .logs, .network])
        #expect(config.environments["local"]?.domains == [.logs, .network, .host])
    }

    @Test(arguments: [
        ("runners: {max_concurrent: 8, max_concurent: 3}", "runners.max_concurent", "unknown key"),
        ("runners: {max_concurrent: eight}", "runners.max_concurrent", "expected an integer"),
        ("runners: {max_concurrent: 0}", "runners.max_concurrent", "between 1 and 256"),
        ("runners: {deadline: soon}", "runners.deadline", "expected a duration"),
        ("server: {listen: [\"nowhere\"]}", "server.listen", "HOST:PORT"),
        ("logging: {level: loud}", "logging.level", "expected one of"),
        ("serverr: {}", "serverr", "unknown key"),
        ("environments: {prod: {database: [{name: x, host: h}]}}", "environments.prod.database[0].database", "database name"),
        ("environments: {prod: {database: [{name: x, host: h, database: d, credential: \"op://only-vault\"}]}}", "environments.prod.database[0].credential", "op://vault/item"),
        ("auth: {approvers: [{name: a, token: \"op://v/i/f\"}]}", "auth.approvers[0].token", "start-up"),
        ("environments: {p: {metrics: {prometheus: {url: \"http://u:pw@prom:9090\"}}}}", "environments.p.metrics.prometheus.url", "without user or password"),
        ("environments: {p: {metrics: {prometheus: {url: \"http://prom:9090\", services: {a: {error_ratio: {threshold: 1}}}}}}}", "environments.p.metrics.prometheus.services.a.error_ratio.query", "PromQL"),
        ("environments: {p: {metrics: {prometheus: {url: \"http://prom:9090\", services: {a: {errors: x}}}}}}", "environments.p.metrics.prometheus.services.a.errors", "unknown key"),
        ("environments: {p: {metrics: {prometheus: {url: \"http://prom:9090\", range: 10m, baseline: 1h}}}}", "environments.p.metrics.prometheus.range", "recent + baseline"),
        ("auth: {approvers: [{name: alice, token: \"env://T\"}]}\nenvironments: {p: {}}\napproval: {standing: [{name: s, environment: p, references: [\"env://X\"], owner: alice, reason: r, expires: \"2099-01-01\"}]}", "approval.standing[0].expires", "30 days"),
        ("auth: {approvers: [{name: alice, token: \"env://T\"}]}\nenvironments: {p: {}}\napproval: {standing: [{name: s, environment: p, references: [\"env://X\"], owner: bob, reason: r, expires: \"2099-01-01\"}]}", "approval.standing[0].owner", "auth.approvers"),
        ("environments: {p: {}}\nintake: {alertmanager: {routes: [{environment: p}]}}", "intake.alertmanager.tokens", "tokens or basic_auth"),
        ("environments: {p: {}}\nintake: {alertmanager: {tokens: [\"env://T\"], routes: [{environment: q}]}}", "intake.alertmanager.routes[0].environment", "no environment"),
        ("notifications: {sinks: [{name: s, type: slack, url: \"http://a\", url_credential: \"env://U\"}]}", "notifications.sinks[0].url", "either url or url_credential"),
        ("storage: {backend: postgres}", "storage.postgres", "needs storage.postgres"),
        ("runners: {launcher: kubernetes}", "runners.kubernetes", "needs runners.kubernetes"),
        ("runners: {launcher: kubernetes, kubernetes: {image: i}}", "runners.endpoint", "connect back"),
        ("runners: {kubernetes: {namespace: x}}", "runners.kubernetes.image", "image is required"),
        ("runners: {endpoint: {advertise: \"localhost:1\", certificate: /c, key: /k, ca_file: /a}}", "runners.endpoint.advertise", "tls://HOST:PORT"),
        ("runners: {endpoint: {advertise: \"tls://h:1\", certificate: c.pem, key: /k, ca_file: /a}}", "runners.endpoint.certificate", "absolute path"),
        ("storage: {backend: mysql}", "storage.backend", "expected one of"),
        ("storage: {backend: postgres, postgres: {credential: \"op://v/i/f\"}}", "storage.postgres.credential", "start-up"),
        ("storage: {backend: postgres, postgres: {lease: 100ms}}", "storage.postgres.lease", "between"),
    ])
    func invalidValuesNameTheKey(yaml: String, key: String, reason: String) {
        do {
            _ = try ConfigLoader.load(yaml: yaml, source: "/etc/x.yaml")
            Issue.record("expected \(key) to be rejected")
        } catch {
            #expect(error.key == key)
            #expect(error.reason.contains(reason), "\(error.reason)")
            #expect(error.description.hasPrefix("/etc/x.yaml:"))
        }
    }

    @Test func environmentOverridesApplyAndUnknownOnesFail() throws {
        let config = try ConfigLoader.load(path: nil, environment: [
            "SRE_DIAGNOSE_RUNNERS_MAX_CONCURRENT": "3",
            "SRE_DIAGNOSE_SERVER_LISTEN": "127.0.0.1:9000, unix:/tmp/x.sock",
            "SRE_DIAGNOSE_URL": "http://ignored",
        ])
        #expect(config.runners.maxConcurrent == 3)
        #expect(config.server.listen == [.tcp(host: "127.0.0.1", port: 9000), .unix(path: "/tmp/x.sock")])

        #expect(throws: ConfigError.self) {
            try ConfigLoader.load(path: nil, environment: ["SRE_DIAGNOSE_RUNNER_MAX": "3"])
        }
        do {
            _ = try ConfigLoader.load(path: nil, environment: ["SRE_DIAGNOSE_RUNNERS_DEADLINE": "forever"])
        } catch {
            #expect(error.source == "environment SRE_DIAGNOSE_RUNNERS_DEADLINE")
            #expect(error.key == "runners.deadline")
        }
    }

    @Test func missingFileIsAConfigError() {
        #expect(throws: ConfigError(source: "/nonexistent/config.yaml", key: "", reason: "no such file")) {
            try ConfigLoader.load(path: "/nonexistent/config.yaml", environment: [:])
        }
    }

    @Test func durations() {
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("90s") == .seconds(90))
        #expect(DurationText.parse("10m") == .seconds(600))
        #expect(DurationText.parse("1.5h") == .seconds(5400))
        #expect(DurationText.parse("12") == .seconds(12))
        #expect(DurationText.parse("-1s") == nil)
        #expect(DurationText.parse("1 fortnight") == nil)
        #expect(DurationText.format(.seconds(600)) == "10m")
    }
}

@Suite struct ShippedConfigTests {
    @Test func repositoryConfigIsValidAndMatchesDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/sre-diagnose.yaml").path
        let shipped = try ConfigLoader.load(path: path, environment: [:])
        let defaults = DaemonConfig()
        #expect(shipped.server.listen == defaults.server.listen)
        #expect(shipped.server.maxBodyBytes == defaults.server.maxBodyBytes)
        #expect(shipped.runners.maxConcurrent == defaults.runners.maxConcurrent)
        #expect(shipped.runners.deadline == defaults.runners.deadline)
        #expect(shipped.runners.warm == defaults.runners.warm)
        #expect(shipped.approval.timeout == defaults.approval.timeout)
        #expect(shipped.storage.retentionDays == defaults.storage.retentionDays)
        #expect(shipped.environments["local"]?.domains == defaults.environments["local"]?.domains)
    }
}

import Foundation

@Suite struct TrustAndPlaybookConfigTests {
    @Test func aGlobalCABundleReachesEveryEnvironmentWithoutItsOwn() throws {
        let config = try ConfigLoader.load(yaml: """
            tls: {ca_file: /etc/ssl/certs/ca-certificates.crt}
            environments:
              a: {network: {endpoints: ["tls://internal.example:443"]}}
              b: {tls: {ca_file: /etc/hostname}, network: {endpoints: ["tls://other.example:443"]}}
            """)
        #expect(config.environments["a"]?.caFile == "/etc/ssl/certs/ca-certificates.crt")
        #expect(config.environments["b"]?.caFile == "/etc/hostname")
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: "tls: {ca_file: /nonexistent/ca.pem}") }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: "tls: {ca_file: relative/ca.pem}") }
    }

    @Test func metricsInventoryParses() throws {
        let config = try ConfigLoader.load(yaml: """
            environments:
              prod:
                metrics:
                  prometheus:
                    url: https://prometheus.internal:9090/
                    credential: op://Infrastructure/prometheus/token
                    builtin_signals: false
                    recent: 10m
                    day_before: true
                    services:
                      checkout:
                        error_ratio: 'sum(rate(errors{service="{service}"}[5m]))'
                        latency_p99: {query: 'p99{service="{service}"}', unit: seconds, threshold: 0.5}
            """)
        let prometheus = try #require(config.environments["prod"]?.metrics?.prometheus)
        #expect(prometheus.url == "https://prometheus.internal:9090")
        #expect(prometheus.credential == "op://Infrastructure/prometheus/token")
        #expect(!prometheus.builtinSignals && prometheus.window.recentSeconds == 600 && prometheus.window.compareDayBefore)
        #expect(prometheus.services.map(\.service) == ["checkout"])
        #expect(prometheus.services.first?.signals.map(\.kind) == [.errorRatio, .latencyP99])
        #expect(prometheus.services.first?.signals.last?.threshold == 0.5 && prometheus.services.first?.signals.last?.unit == "seconds")
        #expect(config.environments["prod"]?.domains == [.metrics])
    }

    @Test func aUserPlaybookNamedLikeABuiltInIsAnExplicitOverride() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("pbo")
        defer { directory.remove() }
        _ = try directory.write("database.yaml", "name: database\nmatch: {phrases: [orders]}\ndomains: {database: {probes: [db.postgres]}}\n")
        let library = try PlaybookLibrary.load(directories: [directory.path])
        #expect(library.overrides.map(\.name) == ["database"])
        #expect(library.playbooks.first { $0.name == "database" }?.match.phrases == ["orders"])
    }

    @Test func postgresStorage() throws {
        let config = try ConfigLoader.load(yaml: """
            storage:
              backend: postgres
              postgres: {host: db.internal, port: 5433, database: sre, user: sre, credential: "cred://store-password", tls: true, ca_file: /etc/ssl/db-ca.pem, lease: 20s}
            """)
        let postgres = try #require(config.storage.postgres)
        #expect(config.storage.backend == .postgres)
        #expect(postgres.host == "db.internal" && postgres.port == 5433 && postgres.database == "sre" && postgres.user == "sre")
        #expect(postgres.credential?.description == "cred://store-password")
        #expect(postgres.tls && postgres.caFile == "/etc/ssl/db-ca.pem")
        #expect(postgres.lease == .seconds(20))
        #expect(try ConfigLoader.load(path: nil, environment: [:]).storage.backend == .sqlite)
    }
}
