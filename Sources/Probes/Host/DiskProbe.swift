import DiagnosisModel
import Foundation

/// `host.disk`: space and inodes per mounted file system (statvfs).
public struct DiskProbe: Probe {
    public static let name = "host.disk"
    public init() {}

    /// File systems that hold data (pseudo file systems are skipped unless named).
    static let dataFileSystems: Set<String> = ["ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "overlay", "vfat", "exfat", "nfs", "nfs4", "cifs", "fuseblk"]

    public func run(_ context: ProbeContext) async throws {
        let warn = context.double("warn_percent") ?? 85
        let critical = context.double("critical_percent") ?? 95
        let wanted = context.strings("mounts")
        let mounts = try MountTable.read().filter { mount in
            wanted.isEmpty ? Self.dataFileSystems.contains(mount.type) : wanted.contains(mount.path)
        }
        for path in wanted where !mounts.contains(where: { $0.path == path }) {
            await context.log(.warning, "\(path) is not a mount point on this host")
        }
        var rows: [[String]] = []
        var problems = 0
        for mount in mounts {
            var info = statvfs()
            guard statvfs(mount.path, &info) == 0, info.f_blocks > 0 else { continue }
            let used = Double(info.f_blocks - info.f_bfree)
            let usable = used + Double(info.f_bavail)
            let percent = usable > 0 ? used / usable * 100 : 0
            let blockSize = Double(info.f_frsize)
            let freeGiB = Double(info.f_bavail) * blockSize / 1_073_741_824
            let inodePercent = info.f_files > 0 ? Double(info.f_files - info.f_ffree) / Double(info.f_files) * 100 : 0
            let row = [mount.path, mount.device, mount.type, String(format: "%.1f%%", percent), String(format: "%.2f GiB", freeGiB), String(format: "%.1f%%", inodePercent)]
            rows.append(row)
            let table = Evidence.table("file system", columns: ["mount", "device", "type", "used", "free", "inodes used"], rows: [row])
            if percent >= warn {
                problems += 1
                await context.report(FindingDraft(
                    code: .hostDiskFull, severity: percent >= critical ? .critical : .high, target: mount.path,
                    title: "\(mount.path) is \(Int(percent))% full (\(String(format: "%.2f", freeGiB)) GiB free)",
                    detail: "Writes fail when it fills: databases stop, logs stop, services crash on ENOSPC.",
                    evidence: [table],
                    remediation: "Find what grew: du -xh --max-depth=2 \(mount.path) | sort -h | tail; rotate or delete logs, clean old artifacts, or grow the volume.",
                    tags: ["disk_full"]
                ))
            }
            if inodePercent >= warn {
                problems += 1
                await context.report(FindingDraft(
                    code: .hostInodesExhausted, severity: inodePercent >= critical ? .critical : .high, target: mount.path,
                    title: "\(mount.path) uses \(Int(inodePercent))% of its inodes",
                    detail: "No new files can be created once inodes run out, even with free space.",
                    evidence: [table],
                    remediation: "Find directories with many small files: find \(mount.path) -xdev -type d -size +1M; clean session/cache files.",
                    tags: ["disk_full"]
                ))
            }
        }
        if problems == 0 {
            await context.report(FindingDraft(
                code: .hostOK, severity: .ok, target: "disks",
                title: "Disk space and inodes fine on \(rows.count) file system(s) (under \(Int(warn))%)",
                evidence: rows.isEmpty ? [] : [.table("file systems", columns: ["mount", "device", "type", "used", "free", "inodes used"], rows: rows)]
            ))
        }
    }
}

/// `/proc/self/mounts`.
enum MountTable {
    struct Mount { var device: String; var path: String; var type: String }

    static func read() throws -> [Mount] {
        let text = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { return nil }
            // Spaces in mount points are escaped as \040.
            return Mount(device: String(fields[0]), path: String(fields[1]).replacingOccurrences(of: "\\040", with: " "), type: String(fields[2]))
        }
    }
}
