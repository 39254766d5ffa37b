import NIOPosix
import NIOSSL

/// The one-time costs of the libraries probes use, for a warm runner to pay before its job: the
/// event loops PostgresNIO and the TLS probe run on (their threads, and the CPU count read from
/// sysfs and the cgroup), BoringSSL's set-up behind the first TLS context, and the resolver path
/// every network probe starts with (its task group and thread hand-off, on `localhost` only).
/// Measured on the database probe: ≈5 ms between its TCP check and its connection attempt went
/// to creating the event loops.
public enum ProbeWarmup {
    public static func prepare() async {
        _ = MultiThreadedEventLoopGroup.singleton.next()
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        _ = try? NIOSSLContext(configuration: tls)
        _ = await Sockets.resolve("localhost", port: 1, timeout: .seconds(1))
    }
}
