import DiagnosisModel

/// How each event changes a session's stored state. `GET /status` is this fold over the log.
enum SessionReducer {
    static func apply(_ body: SessionEvent.Body, to record: inout SessionRecord) {
        switch body {
        case .status(let change):
            record.status = change.status
            record.phase = change.phase
            record.progress = max(record.progress, min(1, change.progress))
            if change.status == .interrupted {
                // Nothing runs any more: no domain may still read as running.
                for index in record.domains.indices where [.pending, .queued, .running].contains(record.domains[index].state) {
                    record.domains[index].state = .interrupted
                    record.domains[index].queuePosition = nil
                    record.domains[index].reason = record.domains[index].reason ?? "the daemon stopped before it finished"
                }
            }
        case .plan(let plan):
            record.domains = plan.domains.map { DomainState(domain: $0.domain) }
        case .domain(let update):
            var state = record.domains.first { $0.domain == update.domain } ?? DomainState(domain: update.domain)
            state.state = update.state
            state.queuePosition = update.state == .queued ? update.queuePosition : nil
            if let progress = update.progress { state.progress = max(state.progress, progress) }
            if update.state == .completed || update.state == .failed || update.state == .skipped { state.progress = 1 }
            if let reason = update.reason { state.reason = reason }
            upsert(state, in: &record)
        case .probeProgress(let progress):
            if var state = record.domains.first(where: { $0.domain == progress.domain }) {
                state.progress = max(state.progress, progress.fraction)
                upsert(state, in: &record)
            }
            record.progress = max(record.progress, diagnosticsProgress(record))
        case .finding(let finding):
            if var state = record.domains.first(where: { $0.domain == finding.domain }) {
                state.findings += 1
                upsert(state, in: &record)
            }
        default:
            break
        }
    }

    private static func upsert(_ state: DomainState, in record: inout SessionRecord) {
        if let index = record.domains.firstIndex(where: { $0.domain == state.domain }) {
            record.domains[index] = state
        } else {
            record.domains.append(state)
        }
    }

    /// Overall progress while runners work: 0.2 … 0.9 by the domains' own progress.
    static func diagnosticsProgress(_ record: SessionRecord) -> Double {
        guard record.phase == .runningDiagnostics, !record.domains.isEmpty else { return record.progress }
        let average = record.domains.map(\.progress).reduce(0, +) / Double(record.domains.count)
        return 0.2 + 0.7 * average
    }
}
