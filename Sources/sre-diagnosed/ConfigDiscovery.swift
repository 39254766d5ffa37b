import Foundation

/// Which configuration file applies when none is named on the command line.
enum ConfigDiscovery {
    static func path(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let explicit { return explicit }
        if let path = environment["SRE_DIAGNOSE_CONFIG"], !path.isEmpty { return path }
        if let directory = environment["CONFIGURATION_DIRECTORY"], !directory.isEmpty {
            return "\(directory.split(separator: ":").first.map(String.init) ?? directory)/config.yaml"
        }
        let system = "/etc/sre-diagnose/config.yaml"
        return FileManager.default.fileExists(atPath: system) ? system : nil
    }
}
