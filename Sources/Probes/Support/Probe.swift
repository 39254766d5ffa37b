import DiagnosisModel
import Foundation

/// A diagnostic check run inside a runner. Reports through its context; throwing means the probe
/// itself failed (not the thing it checks), which the runner records as a probe error.
public protocol Probe: Sendable {
    static var name: String { get }
    func run(_ context: ProbeContext) async throws
}

/// A probe error with a message safe to show (the runner redacts it anyway).
public struct ProbeError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Where a probe's findings and log lines go (the runner's connection).
public protocol ProbeSink: Sendable {
    func report(_ draft: FindingDraft, from request: ProbeRequest) async
    func log(_ level: LogLevel, _ message: String, from request: ProbeRequest) async
}

public enum LogLevel: String, Sendable { case debug, info, warning, error }

/// Everything a probe may use: its request, its approved credential (if any), a tool runner
/// whose children get credentials in their environment only, and the sink.
public struct ProbeContext: Sendable {
    public let request: ProbeRequest
    public let credential: ResolvedCredential?
    public let tools: ToolRunner
    public let deadline: ContinuousClock.Instant
    let sink: any ProbeSink

    public init(request: ProbeRequest, credential: ResolvedCredential?, tools: ToolRunner, deadline: ContinuousClock.Instant, sink: any ProbeSink) {
        self.request = request
        self.credential = credential
        self.tools = tools
        self.deadline = deadline
        self.sink = sink
    }

    public var target: String { request.target }

    public func report(_ draft: FindingDraft) async { await sink.report(draft, from: request) }

    public func log(_ level: LogLevel, _ message: String) async { await sink.log(level, message, from: request) }

    public func string(_ name: String) -> String? { request.params[name]?.stringValue }
    public func int(_ name: String) -> Int? { request.params[name]?.intValue }
    public func double(_ name: String) -> Double? { request.params[name]?.doubleValue }
    public func bool(_ name: String) -> Bool? { request.params[name]?.boolValue }
    public func strings(_ name: String) -> [String] { request.params[name]?.stringArray ?? [] }

    /// Time left before the probe's deadline, at least 1 ms.
    public var remaining: Duration { max(.milliseconds(1), deadline - .now) }
}
