// swift-tools-version:6.1
import PackageDescription

/// Strict Swift 6 everywhere; warnings are treated as bugs by `scripts/test`.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "sre-diagnose",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sre-diagnosed", targets: ["sre-diagnosed"]),
        .executable(name: "sre-diagnose-runner", targets: ["sre-diagnose-runner"]),
        .executable(name: "sre-diagnose", targets: ["sre-diagnose"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
    ],
    targets: [
        // MARK: systemd
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "Systemd",
            dependencies: [
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // MARK: shared model
        .target(name: "DiagnosisModel", swiftSettings: strict),

        .target(name: "RunnerProtocol", dependencies: ["DiagnosisModel"], swiftSettings: strict),
        .target(name: "Redaction", dependencies: ["DiagnosisModel"], swiftSettings: strict),

        .target(name: "CShims"),

        // MARK: runner side
        .target(
            name: "Probes",
            dependencies: [
                "DiagnosisModel", "CShims",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Runner",
            dependencies: [
                "DiagnosisModel", "RunnerProtocol", "Redaction", "Probes",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),

        // MARK: daemon side
        .target(
            name: "OutboundHTTP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .target(name: "Secrets", dependencies: ["DiagnosisModel", "OutboundHTTP"], swiftSettings: strict),
        .target(
            name: "Orchestrator",
            dependencies: ["DiagnosisModel", "OutboundHTTP", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "SessionStore",
            dependencies: [
                "DiagnosisModel", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Daemon",
            dependencies: [
                "DiagnosisModel",
                "Systemd",
                "RunnerProtocol",
                "Redaction",
                "Orchestrator",
                "SessionStore",
                "Secrets",
                "OutboundHTTP",
                "CShims",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [
                .copy("Resources/dashboard.html"), .copy("Resources/dashboard.js"), .copy("Resources/dashboard.css"), .copy("Resources/openapi.yaml"),
            ],
            swiftSettings: strict
        ),

        // MARK: executables (thin mains)
        .executableTarget(
            name: "sre-diagnosed",
            dependencies: [
                "Daemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sre-diagnose-runner",
            dependencies: ["Runner"],
            swiftSettings: strict
        ),
        .target(name: "DiagnoseClient", dependencies: ["DiagnosisModel"], swiftSettings: strict),
        .target(
            name: "DiagnoseMCP",
            dependencies: ["DiagnoseClient", "DiagnosisModel", .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sre-diagnose",
            dependencies: [
                "DiagnosisModel",
                "DiagnoseClient",
                "DiagnoseMCP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        .executableTarget(
            name: "sre-diagnose-bench",
            dependencies: ["Daemon", "DiagnosisModel", "SessionStore", "Redaction", "Orchestrator", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // MARK: tests
        .target(name: "TestSupport", dependencies: ["CShims"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "Daemon", "Systemd", "DiagnosisModel", "RunnerProtocol", "TestSupport", "SessionStore", "Orchestrator", "Secrets",
                .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "OrchestratorTests", dependencies: ["Orchestrator", "DiagnosisModel"], swiftSettings: strict),
        .testTarget(name: "SessionStoreTests", dependencies: ["SessionStore", "DiagnosisModel", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ProbesTests",
            dependencies: [
                "Probes", "DiagnosisModel", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "SecretsTests", dependencies: ["Secrets", "Redaction", "DiagnosisModel", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "OutboundHTTPTests",
            dependencies: ["OutboundHTTP", "TestSupport", .product(name: "NIOSSL", package: "swift-nio-ssl")],
            swiftSettings: strict
        ),
        .testTarget(name: "RunnerProtocolTests", dependencies: ["RunnerProtocol", "DiagnosisModel"], swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["DiagnosisModel", "TestSupport"],
            swiftSettings: strict
        ),
    ]
)
