import DiagnosisModel
import Foundation

/// `host.memory`: available memory, swap, and pressure stall information (/proc/pressure).
public struct MemoryProbe: Probe {
    public static let name = "host.memory"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let meminfo = try ProcFiles.keyValues("/proc/meminfo")
        guard let total = meminfo["MemTotal"], let available = meminfo["MemAvailable"], total > 0 else { throw ProbeError("/proc/meminfo has no MemTotal/MemAvailable") }
        let availablePercent = Double(available) / Double(total) * 100
        let swapTotal = meminfo["SwapTotal"] ?? 0
        let swapUsedPercent = swapTotal > 0 ? Double(swapTotal - (meminfo["SwapFree"] ?? 0)) / Double(swapTotal) * 100 : 0
        let pressure = ProcFiles.pressure("/proc/pressure/memory")
        var rows = [
            ["MemTotal", "\(total / 1024) MiB"], ["MemAvailable", "\(available / 1024) MiB (\(String(format: "%.1f", availablePercent))%)"],
            ["Swap used", swapTotal > 0 ? String(format: "%.1f%%", swapUsedPercent) : "no swap"],
        ]
        if let pressure {
            rows.append(["PSI some avg10/avg60", String(format: "%.2f / %.2f", pressure.someAvg10, pressure.someAvg60)])
            rows.append(["PSI full avg10/avg60", String(format: "%.2f / %.2f", pressure.fullAvg10, pressure.fullAvg60)])
        }
        let table = Evidence.table("memory", columns: ["metric", "value"], rows: rows)
        let stalled = (pressure?.fullAvg60 ?? 0) >= (context.double("psi_full_avg60") ?? 5) || (pressure?.someAvg60 ?? 0) >= (context.double("psi_some_avg60") ?? 25)
        let low = availablePercent < (context.double("available_percent") ?? 10)
        if low || stalled {
            await context.report(FindingDraft(
                code: .hostMemoryPressure, severity: availablePercent < 5 || (pressure?.fullAvg60 ?? 0) >= 20 ? .critical : .high, target: "memory",
                title: low ? "Only \(String(format: "%.1f", availablePercent))% of memory is available" : "Tasks are stalling on memory (PSI)",
                detail: "Processes wait for memory (reclaim, swap); the OOM killer follows if it gets worse.",
                evidence: [table],
                remediation: "Find the largest consumers (ps aux --sort=-rss | head), check for leaks or a cache sized for a larger host; add memory or limits.",
                tags: ["oom"]
            ))
        } else {
            await context.report(FindingDraft(code: .hostOK, severity: .ok, target: "memory", title: "Memory fine (\(String(format: "%.0f", availablePercent))% available, no stalls)", evidence: [table]))
        }
    }
}

/// `host.load`: load average against the number of CPUs, and CPU pressure.
public struct LoadProbe: Probe {
    public static let name = "host.load"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let text = try String(contentsOfFile: "/proc/loadavg", encoding: .utf8)
        let values = text.split(separator: " ").prefix(3).compactMap { Double($0) }
        guard values.count == 3 else { throw ProbeError("cannot read /proc/loadavg") }
        let cpus = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let ratio = values[1] / Double(cpus)
        let pressure = ProcFiles.pressure("/proc/pressure/cpu")
        let table = Evidence.table("load", columns: ["1 min", "5 min", "15 min", "CPUs", "PSI some avg60"], rows: [[
            String(values[0]), String(values[1]), String(values[2]), String(cpus), pressure.map { String(format: "%.2f", $0.someAvg60) } ?? "n/a",
        ]])
        if ratio >= (context.double("load_per_cpu") ?? 2) {
            await context.report(FindingDraft(
                code: .hostLoadHigh, severity: ratio >= 4 ? .high : .medium, target: "cpu",
                title: "Load average \(values[1]) on \(cpus) CPU(s) (\(String(format: "%.1f", ratio))× per CPU)",
                detail: "More runnable (or I/O-blocked) tasks than CPUs: requests queue and latency grows.",
                evidence: [table],
                remediation: "Look at top/pidstat for the busiest processes; high load with idle CPU means I/O waits (iostat -x).",
                tags: ["slow"]
            ))
        } else {
            await context.report(FindingDraft(code: .hostOK, severity: .ok, target: "cpu", title: "Load \(values[1]) on \(cpus) CPU(s) is fine", evidence: [table]))
        }
    }
}

enum ProcFiles {
    /// `Key: value kB` lines, values in kB.
    static func keyValues(_ path: String) throws -> [String: Int] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var values: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let value = Int(parts[1].split(separator: " ").first ?? "") else { continue }
            values[String(parts[0])] = value
        }
        return values
    }

    struct Pressure { var someAvg10: Double; var someAvg60: Double; var fullAvg10: Double; var fullAvg60: Double }

    /// `/proc/pressure/*` (nil when PSI is off).
    static func pressure(_ path: String) -> Pressure? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var result = Pressure(someAvg10: 0, someAvg60: 0, fullAvg10: 0, fullAvg60: 0)
        for line in text.split(separator: "\n") {
            var fields: [String: Double] = [:]
            for pair in line.split(separator: " ").dropFirst() {
                let kv = pair.split(separator: "=")
                if kv.count == 2, let value = Double(kv[1]) { fields[String(kv[0])] = value }
            }
            if line.hasPrefix("some") { result.someAvg10 = fields["avg10"] ?? 0; result.someAvg60 = fields["avg60"] ?? 0 }
            if line.hasPrefix("full") { result.fullAvg10 = fields["avg10"] ?? 0; result.fullAvg60 = fields["avg60"] ?? 0 }
        }
        return result
    }
}
