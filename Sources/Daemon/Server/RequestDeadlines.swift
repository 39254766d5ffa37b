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
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var deadlines: RequestDeadlines
    private var timer: Scheduled<Void>?
    private let onExpiry: @Sendable () -> Void

    init(header: TimeAmount, body: TimeAmount, onExpiry: @escaping @Sendable () -> Void = {}) {
        deadlines = RequestDeadlines(header: header, body: body)
        self.onExpiry = onExpiry
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { perform(deadlines.opened(), context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if timer == nil { perform(deadlines.opened(), context: context) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(deadlines.received(unwrapInboundIn(data)), context: context)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(.disarm, context: context)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        perform(.disarm, context: context)
    }

    private func perform(_ action: RequestDeadlines.Action, context: ChannelHandlerContext) {
        switch action {
        case .arm(let amount):
            timer?.cancel()
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let onExpiry = self.onExpiry
            timer = context.eventLoop.scheduleTask(in: amount) {
                onExpiry()
                loopBound.value.close(promise: nil)
            }
        case .disarm:
            timer?.cancel()
            timer = nil
        case .none:
            break
        }
    }
}
