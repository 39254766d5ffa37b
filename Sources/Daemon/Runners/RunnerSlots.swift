/// Bounds how many runners run at once; the rest wait in FIFO order.
actor RunnerSlots {
    private let limit: Int
    private var running = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<Void, Never>)] = []
    private var nextID = 0

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Waits for a free slot. `onQueued` receives the 1-based queue position when it must wait.
    func acquire(onQueued: @Sendable (Int) -> Void) async {
        if running < limit, waiters.isEmpty {
            running += 1
            return
        }
        nextID += 1
        let id = nextID
        onQueued(waiters.count + 1)
        await withCheckedContinuation { continuation in
            waiters.append((id, continuation))
        }
    }

    func release() {
        if waiters.isEmpty {
            running -= 1
        } else {
            // The slot passes straight to the next waiter.
            waiters.removeFirst().continuation.resume()
        }
    }

    var snapshot: (running: Int, queued: Int) { (running, waiters.count) }
}
