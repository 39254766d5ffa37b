import Foundation
import TestSupport
import Testing

/// The Debian package (`scripts/package`, here from the debug build): Debian's layout, the
/// conffile, lintian without errors, and binaries that run with no Swift toolchain on the machine
/// (hidden under a tmpfs in a private mount namespace).
@Suite struct PackageTests {
    static func sh(_ script: String, directory: TemporaryDirectory, timeout: Double = 600) throws -> (code: Int32?, output: String) {
        // In the test's own directory: what it extracts must never land in the work tree.
        let child = try ChildProcess("/bin/sh", ["-c", "cd '\(directory.path)' && { \(script) ; } 2>&1"], directory: directory, name: "sh")
        let code = child.wait(timeout: timeout)
        return (code, child.stdout)
    }

    @Test func theDebInstallsDebiansLayoutAndRunsWithoutSwift() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("deb")
        defer { directory.remove() }
        let root = TestEnvironment.packageRoot.path
        let built = try Self.sh("cd \(root) && scripts/package --debug", directory: directory)
        #expect(built.code == 0, "\(built.output.suffix(3000))")
        let deb = try #require(built.output.split(separator: "\n").last.map { "\(root)/\($0)" }, "\(built.output)")

        let listing = try Self.sh("dpkg-deb -c \(deb) | awk '{print $6}'", directory: directory).output
        for path in [
            "./usr/bin/sre-diagnosed", "./usr/bin/sre-diagnose-runner", "./usr/bin/sre-diagnose", "./usr/lib/sre-diagnose/libswiftCore.so",
            "./lib/systemd/system/sre-diagnose.service", "./lib/systemd/system/sre-diagnose.socket", "./usr/lib/sysusers.d/sre-diagnose.conf",
            "./etc/sre-diagnose/config.yaml", "./etc/sre-diagnose/playbooks/", "./usr/share/sre-diagnose/sre-diagnose_Daemon.resources/dashboard.html",
            "./usr/share/doc/sre-diagnose/copyright",
        ] {
            #expect(listing.contains(path + "\n") || listing.hasSuffix(path), "\(path) missing from the package")
        }
        #expect(!listing.contains("./etc/systemd/system"), "vendor units never go to the admin's directory")
        #expect(!listing.contains("./etc/sre-diagnose/playbooks/database.yaml"), "built-in playbooks are compiled in, not copied")
        let control = try Self.sh("dpkg-deb -f \(deb) Depends; dpkg-deb -I \(deb) conffiles postinst", directory: directory).output
        #expect(control.contains("libc6") && control.contains("libsystemd0") && control.contains("libsqlite3-0"), "\(control)")
        #expect(control.contains("/etc/sre-diagnose/config.yaml"), "the configuration is a conffile")
        #expect(control.contains("systemd-sysusers"), "\(control)")
        let unit = try Self.sh("dpkg-deb --fsys-tarfile \(deb) | tar -xO ./lib/systemd/system/sre-diagnose.service", directory: directory).output
        #expect(unit.contains("ExecStart=/usr/bin/sre-diagnosed"))

        // No Swift toolchain: hide it, run the binaries from the extracted package — the daemon
        // really serving, its dashboard found in the package's share/ (relative to its bin/).
        let port = try TestEnvironment.freePort()
        let run = try Self.sh("""
            set -e
            dpkg-deb -x \(deb) extracted
            toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")
            exec unshare --mount --propagation private sh -c '
              mount -t tmpfs none "'"$toolchain"'"
              test ! -e "'"$toolchain"'/usr/lib/swift/linux/libswiftCore.so"
              for binary in extracted/usr/bin/*; do
                if LD_LIBRARY_PATH= ldd "$binary" | grep -E "not found|'"$toolchain"'"; then echo "UNRESOLVED $binary"; exit 1; fi
              done
              LD_LIBRARY_PATH= extracted/usr/bin/sre-diagnosed --version
              LD_LIBRARY_PATH= extracted/usr/bin/sre-diagnose --version
              LD_LIBRARY_PATH= extracted/usr/bin/sre-diagnosed --config extracted/etc/sre-diagnose/config.yaml --check-config
              LD_LIBRARY_PATH= extracted/usr/bin/sre-diagnosed --config extracted/etc/sre-diagnose/config.yaml --state-directory state \\
                --listen 127.0.0.1:\(port) --log-target stderr 2>daemon.log &
              for attempt in $(seq 200); do curl -sf -o dashboard.html http://127.0.0.1:\(port)/ && break; sleep 0.05; done
              kill $!
              grep -q "</html>" dashboard.html && echo "DASHBOARD SERVED" || { cat daemon.log; exit 1; }
            '
            """, directory: directory)
        #expect(run.code == 0, "\(run.output.suffix(3000))")
        #expect(run.output.contains("0.1.0") && run.output.contains("configuration OK"), "\(run.output)")
        #expect(run.output.contains("DASHBOARD SERVED"), "\(run.output)")

        let lintian = try Self.sh("lintian --tag-display-limit 0 \(deb)", directory: directory)
        #expect(!lintian.output.split(separator: "\n").contains { $0.hasPrefix("E:") }, "\(lintian.output)")
    }
}
