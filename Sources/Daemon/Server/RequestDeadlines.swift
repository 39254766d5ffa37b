import NIOCore
import NIOHTTPTypes

/// When a request must have arrived by: its head within `header` of the connection opening,
/// its body within `body` of its head. A client that trickles bytes (one every 30 s) would
/// otherwise hold a connection, and a file descriptor, forever; the idle timeout never fires
/// for it. Between requests the idle timeout applies as before.
///
/// A value-type state machine: it is told what happened and says what to do with the timer.
struct RequestDeadlines: Sendable {
    enum State: Sendable, Equatable { case awaitingFirstHead, awaitingBodyEnd, betweenRequests }
    enum Action: Sendable, Equatable { case arm(TimeAmount), disarm, none }

    let header: TimeAmount
    let body: TimeAmount
    private(set) var state: State = .awaitingFirstHead

    init(header: TimeAmount, body: TimeAmount) {
        self.header = header
        self.body = body
    }

    /// The connection is open: the first head is due.
    func opened() -> Action { state == .awaitingFirstHead ? .arm(header) : .none }

    mutating func received(_ part: HTTPRequestPart) -> Action {
        switch part {
        case .head:
            state = .awaitingBodyEnd
            return .arm(body)
        case .body:
            return .none
        case .end:
            state = .betweenRequests
            return .disarm
        }
    }
}

/// Applies ``RequestDeadlines`` to a connection: closes it when a deadline passes.
///
/// One timer at most, which re-arms itself when the deadline moved later meanwhile — not a timer
/// scheduled and cancelled per request (an allocation and the event loop's lock each time, ≈3 %
/// of a `/status` request's CPU under load). On a busy keep-alive connection it fires about once
/// per body timeout and finds nothing due.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var deadlines: RequestDeadlines
    /// When the connection closes unless the request completes first; nil: nothing is due.
    private var due: NIODeadline?
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?
    private let onExpiry: @Sendable () -> Void

    init(header: TimeAmount, body: TimeAmount, onExpiry: @escaping @Sendable () -> Void = {}) {
        deadlines = RequestDeadlines(header: header, body: body)
        self.onExpiry = onExpiry
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { perform(deadlines.opened(), context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if due == nil { perform(deadlines.opened(), context: context) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(deadlines.received(unwrapInboundIn(data)), context: context)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    private func perform(_ action: RequestDeadlines.Action, context: ChannelHandlerContext) {
        switch action {
        case .arm(let amount):
            let at = context.eventLoop.now + amount
            due = at
            // A timer that fires no later than the new deadline re-arms itself then.
            if let timer {
                if timer.at <= at { return }
                timer.task.cancel()
            }
            schedule(at, context: context)
        case .disarm:
            due = nil
        case .none:
            break
        }
    }

    private func schedule(_ at: NIODeadline, context: ChannelHandlerContext) {
        let handler = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = (context.eventLoop.scheduleTask(deadline: at) { handler.value.0.fire(context: handler.value.1) }, at)
    }

    private func fire(context: ChannelHandlerContext) {
        timer = nil
        guard let due else { return }
        if due <= context.eventLoop.now {
            self.due = nil
            onExpiry()
            context.close(promise: nil)
        } else {
            schedule(due, context: context)
        }
    }

    private func stop() {
        timer?.task.cancel()
        timer = nil
        due = nil
    }
}
