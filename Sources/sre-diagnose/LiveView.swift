import DiagnosisModel
import Foundation

/// Renders a session's events as they arrive. On a TTY: lines that stay (plan, findings,
/// approvals) scroll above a status block (phase and one progress bar per domain) that is redrawn
/// in place. Elsewhere: one plain line per notable event, nothing redrawn.
final class LiveView {
    let terminal: Terminal
    private var phase = "starting"
    private var progress = 0.0
    private var domains: [Domain: (state: String, progress: Double, findings: Int, note: String?)] = [:]
    private var blockLines = 0
    /// Per domain, each planned probe's last reported fraction: the domain's bar is their mean.
    private var probeFractions: [Domain: [String: Double]] = [:]

    init(terminal: Terminal) { self.terminal = terminal }

    func handle(_ event: SessionEvent) {
        switch event.body {
        case .created(let created):
            emit(terminal.paint("Diagnosing: ", .bold) + created.problem + terminal.paint("  (environment \(created.environment), session \(event.sessionID))", .dim))
        case .status(let change):
            phase = change.phase.rawValue.replacingOccurrences(of: "_", with: " ")
            progress = change.progress
            if !terminal.isTTY, let message = change.message { emit("[\(change.status.rawValue)] \(message)") }
        case .plan(let plan):
            var lines = [terminal.paint("Plan", .bold) + " (\(plan.planner)): \(plan.rationale)"]
            for domain in plan.domains {
                domains[domain.domain] = ("pending", 0, 0, nil)
                probeFractions[domain.domain] = Dictionary(domain.probes.map { ($0.id, 0.0) }) { first, _ in first }
                lines.append("  \(domain.domain.rawValue): \(domain.probes.map(\.probe).joined(separator: ", "))" + terminal.paint(" — \(domain.rationale)", .dim))
            }
            emit(lines)
        case .approvalRequested(let request):
            var lines = [terminal.paint("Approval needed", .yellow) + " for \(request.items.count) credential reference(s), expires \(JSONCoding.format(request.expiresAt)):"]
            for item in request.items {
                lines.append("  \(terminal.paint(item.reference, .bold))  \(item.domain.rawValue) · \(item.probes.joined(separator: ", "))")
                lines.append("      " + item.purpose)
            }
            emit(lines)
        case .approvalDecided(let decision):
            let who = decision.approver.map { " by \($0)" } ?? ""
            var line = "Approval \(decision.outcome.rawValue)\(who)"
            if !decision.approvedReferences.isEmpty { line += "; approved: \(decision.approvedReferences.joined(separator: ", "))" }
            if !decision.deniedReferences.isEmpty && decision.outcome != .approved { line += "; not approved: \(decision.deniedReferences.joined(separator: ", "))" }
            if let comment = decision.comment { line += " — \(comment)" }
            emit(terminal.paint(line, decision.outcome == .approved ? .green : .yellow))
        case .credentialResolved(let credential):
            emit(terminal.paint("  ✓ \(credential.reference) resolved via \(credential.provider)", .dim))
        case .credentialFailed(let credential):
            emit(terminal.paint("  ✗ \(credential.reference): \(credential.error ?? "unavailable")", .yellow))
        case .domain(let update):
            var entry = domains[update.domain] ?? ("pending", 0, 0, nil)
            entry.state = update.state.rawValue
            if let value = update.progress { entry.progress = value }
            if [.completed, .failed, .skipped].contains(update.state) { entry.progress = 1 }
            entry.note = update.queuePosition.map { "queue position \($0)" } ?? update.reason
            domains[update.domain] = entry
            if update.state == .failed || update.state == .skipped {
                emit(terminal.paint("  \(update.domain.rawValue) \(update.state.rawValue): \(update.reason ?? "")", .yellow))
            } else if !terminal.isTTY, update.state == .completed {
                emit("  \(update.domain.rawValue) completed (\(entry.findings) finding(s))")
            }
        case .probeProgress(let probe):
            var entry = domains[probe.domain] ?? ("running", 0, 0, nil)
            entry.note = probe.state == "finished" ? nil : probe.probe
            var fractions = probeFractions[probe.domain] ?? [:]
            fractions[probe.probe] = probe.state == "finished" ? 1 : probe.fraction
            probeFractions[probe.domain] = fractions
            entry.progress = max(entry.progress, fractions.values.reduce(0, +) / Double(max(1, fractions.count)))
            domains[probe.domain] = entry
        case .finding(let finding):
            domains[finding.domain]?.findings += 1
            let line = "\(terminal.severity(finding.severity)) \(finding.title)" + terminal.paint("  [\(finding.code) · \(finding.domain.rawValue) · \(finding.id)]", .dim)
            emit(line)
        case .runnerLog:
            break
        case .notice(let notice):
            emit(terminal.paint("note: \(notice.message)", .dim))
        case .alerts(let update):
            emit(terminal.paint("alerts: \(update.note)", .dim))
        case .report:
            phase = "done"
            progress = 1
            clearBlock()
            return
        }
        redraw()
    }

    /// Removes the status block (before prompting or printing the report).
    func clearBlock() {
        guard terminal.isTTY, blockLines > 0 else { return }
        output("\u{1B}[\(blockLines)A\u{1B}[J", terminator: "")
        blockLines = 0
    }

    func emit(_ line: String) { emit([line]) }

    func emit(_ lines: [String]) {
        clearBlock()
        for line in lines { output(line) }
    }

    private func redraw() {
        guard terminal.isTTY else { return }
        clearBlock()
        var overall = progress
        if phase == "running diagnostics", !domains.isEmpty {
            // The session moves from 20% to 90% while its domains run.
            overall = max(progress, 0.2 + 0.7 * domains.values.map(\.progress).reduce(0, +) / Double(domains.count))
        }
        var lines = [terminal.paint("▸ \(phase)", .bold) + " " + terminal.bar(overall)]
        for (domain, entry) in domains.sorted(by: { $0.key < $1.key }) {
            let name = domain.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
            let state = entry.state.padding(toLength: 9, withPad: " ", startingAt: 0)
            var line = "  \(name) \(terminal.bar(entry.progress, width: 16)) \(state) \(entry.findings) finding(s)"
            if let note = entry.note { line += terminal.paint("  \(note)", .dim) }
            lines.append(String(line.prefix(terminal.width + 40)))
        }
        for line in lines { output(line) }
        blockLines = lines.count
    }
}
