import Foundation
import TestSupport
import Testing

/// `deploy/kubernetes` renders with `kubectl kustomize`, and the objects hold what the deployment
/// promises (`Tests/Fixtures/check_deploy.py`); its daemon configuration passes the daemon's own
/// check. No cluster runs here.
@Suite struct DeployTests {
    @Test func kustomizeRendersWhatTheDeploymentPromises() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("deploy")
        defer { directory.remove() }
        let kustomize = try ChildProcess("/usr/bin/env", ["kubectl", "kustomize", TestEnvironment.packageRoot.appendingPathComponent("deploy/kubernetes").path], directory: directory, name: "kustomize")
        #expect(kustomize.wait(timeout: 60) == 0, "\(kustomize.stderr)")
        let rendered = try directory.write("rendered.yaml", kustomize.stdout)
        #expect(kustomize.stdout.contains("kind: Deployment"))
        let check = try ChildProcess("/bin/sh", ["-c", "python3 \(TestEnvironment.fixture("check_deploy.py")) < \(rendered)"], directory: directory, name: "check")
        #expect(check.wait(timeout: 60) == 0, "\(check.stdout)\(check.stderr)")
    }

    @Test func theClusterConfigurationIsValid() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("deploycfg")
        defer { directory.remove() }
        let config = TestEnvironment.packageRoot.appendingPathComponent("deploy/kubernetes/sre-diagnose.yaml").path
        let check = try ChildProcess(TestEnvironment.binary("sre-diagnosed"), ["--config", config, "--check-config"], directory: directory, name: "check")
        #expect(check.wait(timeout: 30) == 0, "\(check.stdout) \(check.stderr)")
    }
}
