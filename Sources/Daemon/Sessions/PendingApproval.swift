import DiagnosisModel

extension SessionService {
    /// An approval request that is open for decisions. It opens before the request is published,
    /// so a client that approves the instant it sees the event is never told "nothing pending";
    /// a decision that arrives before the run starts waiting is kept for it.
    /// Confined to the ``SessionService`` actor.
    final class PendingApproval: @unchecked Sendable {
        let request: ApprovalRequest
        /// Who decided (for the audit); nil for expiry and cancellation.
        private(set) var decidedBy: Identity?
        private var continuation: CheckedContinuation<ApprovalDecision, Never>?
        private var decision: ApprovalDecision?
        /// Whether the run stored the decision (its event and audit row), once it knows.
        private var stored: Result<Void, any Error>?
        private var storedWaiters: [CheckedContinuation<Result<Void, any Error>, Never>] = []

        init(request: ApprovalRequest) { self.request = request }

        func deliver(_ decision: ApprovalDecision, by identity: Identity? = nil) {
            guard self.decision == nil else { return }
            self.decision = decision
            decidedBy = identity
            continuation?.resume(returning: decision)
            continuation = nil
        }

        func wait(_ continuation: CheckedContinuation<ApprovalDecision, Never>) {
            if let decision { continuation.resume(returning: decision) } else { self.continuation = continuation }
        }

        func finishStoring(_ result: Result<Void, any Error>) {
            guard stored == nil else { return }
            stored = result
            for waiter in storedWaiters { waiter.resume(returning: result) }
            storedWaiters.removeAll()
        }

        func waitStored(_ continuation: CheckedContinuation<Result<Void, any Error>, Never>) {
            if let stored { continuation.resume(returning: stored) } else { storedWaiters.append(continuation) }
        }
    }
}
