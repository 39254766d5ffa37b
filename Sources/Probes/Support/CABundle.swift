import Foundation

/// A tool that takes one CA bundle (the aws CLI's `AWS_CA_BUNDLE`) replaces the system's roots
/// with it. To trust an internal CA *besides* the system's, the tool gets a bundle of both,
/// written once per runner into its temporary directory.
public enum CABundle {
    static let systemBundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]

    /// The path of a bundle holding the system's roots and `caFile`'s, or nil when `caFile`
    /// cannot be read.
    public static func combined(with caFile: String, directory: String = NSTemporaryDirectory()) -> String? {
        guard let extra = FileManager.default.contents(atPath: caFile) else { return nil }
        var bundle = systemBundles.lazy.compactMap { FileManager.default.contents(atPath: $0) }.first ?? Data()
        if bundle.last != UInt8(ascii: "\n") { bundle.append(UInt8(ascii: "\n")) }
        bundle.append(extra)
        let path = (directory as NSString).appendingPathComponent("sre-diagnose-ca-\(getpid())-\(abs(caFile.hashValue)).pem")
        guard FileManager.default.createFile(atPath: path, contents: bundle, attributes: [.posixPermissions: 0o644]) else { return nil }
        return path
    }
}
