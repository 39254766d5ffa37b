import DiagnosisModel
import Foundation
import Probes
import TestSupport
import Testing

/// AWS probes through the real `aws` CLI against moto's server (extended where stock moto cannot
/// express a fault: impaired status checks and unhealthy targets — see Tests/Fixtures/aws_standin.py).
@Suite struct AWSProbeTests {
    static func standin(_ scenario: String) throws -> (ChildProcess, String, TemporaryDirectory) {
        let directory = try TestEnvironment.makeTemporaryDirectory("aws")
        let server = try ChildProcess("/usr/bin/env", ["python3", TestEnvironment.fixture("aws_standin.py"), directory.file("port"), scenario], directory: directory, name: "moto")
        guard TestEnvironment.waitUntil(timeout: 60, { FileManager.default.fileExists(atPath: directory.file("port")) }) else {
            throw TestHTTPError.connect("moto did not start: \(server.stderr.suffix(2000))")
        }
        return (server, "http://127.0.0.1:\(try String(contentsOfFile: directory.file("port"), encoding: .utf8))", directory)
    }

    static let credential = ["aws_access_key_id": "AKIAEXAMPLEKEY", "aws_secret_access_key": "aws-secret-canary-123"]

    @Test func faultsAreFound() async throws {
        let (server, endpoint, directory) = try Self.standin("faults")
        defer { server.stop(); directory.remove() }
        let params: [String: JSONValue] = ["region": "us-west-2", "endpoint_url": .string(endpoint)]

        let rds = await ProbeHarness.run(AWSRDSProbe(), target: "us-west-2", params: params, credential: Self.credential)
        let unavailable = try #require(rds.first("aws.rds_unavailable"), "\(rds.codes) \(String(describing: rds.error))")
        #expect(unavailable.target == "orders-rds")
        #expect(unavailable.title.contains("storage-full"))
        #expect(unavailable.severity == .critical)

        let alarms = await ProbeHarness.run(AWSAlarmsProbe(), target: "us-west-2", params: params, credential: Self.credential)
        #expect(alarms.codes == ["aws.alarm_firing"], "\(alarms.codes) \(String(describing: alarms.error))")
        #expect(alarms.first("aws.alarm_firing")?.title.contains("FreeStorageSpace") == true)
        #expect(alarms.first("aws.alarm_firing")?.detail.contains("Threshold Crossed") == true)

        let ec2 = await ProbeHarness.run(AWSEC2Probe(), target: "us-west-2", params: params, credential: Self.credential)
        #expect(ec2.codes == ["aws.ec2_impaired"], "\(ec2.codes) \(String(describing: ec2.error))")
        #expect(ec2.first("aws.ec2_impaired")?.evidence.first?.rows?.first?[3] == "impaired")

        let targets = await ProbeHarness.run(AWSTargetsProbe(), target: "us-west-2", params: params, credential: Self.credential)
        let unhealthy = try #require(targets.first("aws.targets_unhealthy"), "\(targets.codes) \(String(describing: targets.error))")
        #expect(unhealthy.title.contains("1 of 2"))
        #expect(unhealthy.evidence.first?.rows?.first?[2] == "Target.FailedHealthChecks")

        var logParams = params
        logParams["log_groups"] = ["/app/api"]
        let logs = await ProbeHarness.run(AWSLogsProbe(), target: "/app/api", params: logParams, credential: Self.credential)
        let errors = try #require(logs.first("aws.log_errors"), "\(logs.codes) \(String(describing: logs.error))")
        #expect(errors.title.hasPrefix("12×"))
        #expect(errors.tags.contains("disk_full"))
    }

    @Test func healthyAccountAndCredentialsInTheToolEnvironmentOnly() async throws {
        let (server, endpoint, directory) = try Self.standin("healthy")
        defer { server.stop(); directory.remove() }
        // A wrapper records the environment and arguments the aws CLI receives.
        let real = try #require(ToolRunner().locate("aws"))
        try directory.write("bin/aws", "#!/bin/sh\nenv > \(directory.file("aws.env"))\necho \"$@\" > \(directory.file("aws.args"))\nexec \(real) \"$@\"\n", mode: 0o755)
        var base = ToolRunner.defaultBaseEnvironment()
        base["PATH"] = directory.file("bin") + ":" + (base["PATH"] ?? "")
        let params: [String: JSONValue] = ["region": "us-west-2", "endpoint_url": .string(endpoint)]
        let rds = await ProbeHarness.run(AWSRDSProbe(), target: "us-west-2", params: params, credential: Self.credential, tools: ToolRunner(baseEnvironment: base))
        #expect(rds.codes == ["aws.ok"], "\(rds.codes) \(String(describing: rds.error))")
        let env = try String(contentsOfFile: directory.file("aws.env"), encoding: .utf8)
        #expect(env.contains("AWS_ACCESS_KEY_ID=AKIAEXAMPLEKEY"))
        #expect(env.contains("AWS_SECRET_ACCESS_KEY=aws-secret-canary-123"))
        #expect(env.contains("AWS_MAX_ATTEMPTS=2"))
        let arguments = try String(contentsOfFile: directory.file("aws.args"), encoding: .utf8)
        #expect(arguments.contains("--endpoint-url \(endpoint)"))
        #expect(!arguments.contains("aws-secret-canary-123"), "never in argv")
        for probe in [AWSAlarmsProbe() as any Probe, AWSEC2Probe(), AWSTargetsProbe()] {
            let run = await ProbeHarness.run(probe, target: "us-west-2", params: params, credential: Self.credential)
            #expect(run.codes == ["aws.ok"], "\(type(of: probe).name): \(run.codes) \(String(describing: run.error))")
        }
    }

    @Test func cliProblemsAreClearErrorsOrFindings() async throws {
        // No aws on PATH.
        let missing = await ProbeHarness.run(AWSRDSProbe(), target: "us-west-2", params: ["region": "us-west-2"], tools: ToolRunner(baseEnvironment: ["PATH": "/nonexistent"]))
        #expect("\(String(describing: missing.error))".contains("aws CLI is not installed"))
        // Expired credentials become a finding; access denied and throttling clear errors.
        let directory = try TestEnvironment.makeTemporaryDirectory("awserr")
        defer { directory.remove() }
        func fake(_ stderr: String) throws -> ToolRunner {
            try directory.write("bin/aws", "#!/bin/sh\necho '\(stderr)' >&2\nexit 254\n", mode: 0o755)
            return ToolRunner(baseEnvironment: ["PATH": directory.file("bin")])
        }
        let expired = await ProbeHarness.run(AWSAlarmsProbe(), target: "r", params: ["region": "us-west-2"], credential: Self.credential,
                                             tools: try fake("An error occurred (ExpiredToken) when calling the DescribeAlarms operation: The security token included in the request is expired"))
        #expect(expired.codes == ["cred.expired"])
        let denied = await ProbeHarness.run(AWSAlarmsProbe(), target: "r", params: ["region": "us-west-2"], credential: Self.credential,
                                            tools: try fake("An error occurred (AccessDenied) when calling the DescribeAlarms operation: User: arn:aws:iam::1:user/x is not authorized to perform: cloudwatch:DescribeAlarms"))
        #expect("\(String(describing: denied.error))".contains("access denied"))
        let throttled = await ProbeHarness.run(AWSAlarmsProbe(), target: "r", params: ["region": "us-west-2"], credential: Self.credential,
                                               tools: try fake("An error occurred (Throttling) when calling the DescribeAlarms operation (reached max retries: 2): Rate exceeded"))
        #expect("\(String(describing: throttled.error))".contains("throttled"))
    }
}
