import ArgumentParser
import Daemon
import DiagnosisModel
import Foundation
import Logging
import Systemd

@main
struct SREDiagnosed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sre-diagnosed",
        abstract: "The sre-diagnose daemon: HTTP API, orchestrator, approval gate and runner supervisor.",
        version: ProductInfo.version
    )

    @Option(name: .long, help: "Configuration file (default: $SRE_DIAGNOSE_CONFIG, $CONFIGURATION_DIRECTORY/config.yaml, /etc/sre-diagnose/config.yaml if present, else embedded defaults).")
    var config: String?

    @Option(name: .long, help: "Where logs go: auto (journal when stderr is the journal), journal or stderr.")
    var logTarget: String?

    @Option(name: .long, help: "Listen address (HOST:PORT or unix:/path), repeatable; replaces server.listen. Ignored when socket-activated.")
    var listen: [String] = []

    @Option(name: .long, help: "State directory (SQLite database); replaces storage.state_directory.")
    var stateDirectory: String?

    @Option(name: .long, help: ArgumentHelp("Seconds between SSE heartbeat comments.", visibility: .hidden))
    var heartbeatSeconds: Double = 15

    @Flag(name: .long, help: "Check the configuration and exit (0 when valid, 78 when not).")
    var checkConfig = false

    mutating func run() async throws {
        // A runner or client that vanishes mid-write must never kill the daemon.
        signal(SIGPIPE, SIG_IGN)

        let configPath = ConfigDiscovery.path(explicit: config)
        var daemonConfig: DaemonConfig
        do {
            daemonConfig = try ConfigLoader.load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data("<3>sre-diagnosed: invalid configuration: \(error)\n".utf8))
            throw ExitCode(78)
        }
        var options = DaemonOptions()
        for text in listen {
            guard let address = ListenAddress(parsing: text) else {
                FileHandle.standardError.write(Data("<3>sre-diagnosed: invalid configuration: --listen: \"\(text)\" is not HOST:PORT or unix:/path\n".utf8))
                throw ExitCode(78)
            }
            options.listen.append(address)
        }
        if let stateDirectory { daemonConfig.storage.stateDirectory = stateDirectory }
        options.heartbeatInterval = .milliseconds(Int64(max(0.05, heartbeatSeconds) * 1000))
        if let logTarget {
            guard let target = DaemonConfig.Logging.Target(rawValue: logTarget) else {
                FileHandle.standardError.write(Data("<3>sre-diagnosed: invalid configuration: --log-target: expected auto, journal or stderr\n".utf8))
                throw ExitCode(78)
            }
            daemonConfig.logging.target = target
        }
        if checkConfig {
            // Playbooks are part of the configuration: a broken one must fail the check, not
            // the next start.
            let playbooks: Int
            do {
                playbooks = try DaemonApplication.checkPlaybooks(daemonConfig)
            } catch {
                FileHandle.standardError.write(Data("<3>sre-diagnosed: invalid configuration: \(error)\n".utf8))
                throw ExitCode(78)
            }
            print("configuration OK (\(configPath ?? "embedded defaults"); \(playbooks) playbook(s))")
            return
        }

        let target: LogTarget = switch daemonConfig.logging.target {
        case .auto: LogTarget.detect()
        case .journal: .journal
        case .stderr: .stderr
        }
        let scrubber = SecretScrubber()
        DaemonLogging.bootstrap(
            target: target,
            identifier: "sre-diagnosed",
            level: Logger.Level(rawValue: daemonConfig.logging.level) ?? .info,
            scrub: scrubber.scrub
        )
        let logger = Logger(label: "sre-diagnosed")
        logger.notice(
            "sre-diagnosed \(ProductInfo.version) starting (config: \(configPath ?? "embedded defaults"))",
            metadata: [LogKey.messageID: "\(MessageID.started)"]
        )
        do {
            let group = try await DaemonApplication.build(config: daemonConfig, options: options, scrubber: scrubber, logger: logger)
            try await group.run()
        } catch let error as ConfigError {
            logger.error("invalid configuration: \(error)")
            throw ExitCode(78)
        }
        logger.notice("sre-diagnosed stopped")
    }
}
