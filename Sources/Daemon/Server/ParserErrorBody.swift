import NIOCore

/// Gives the HTTP parser's own 400 (a request line or header NIO cannot parse, answered by
/// `HTTPServerProtocolErrorHandler` before any route runs) the API's JSON error body, so every
/// error a client sees has the same shape. It sits at the socket end of the pipeline and
/// replaces exactly that bodiless answer; everything else passes untouched.
final class ParserErrorBodyHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let bare = ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    static let json: ByteBuffer = {
        let body = #"{"error":{"code":"bad_request","message":"the request is not valid HTTP/1.1 (request line or headers)"}}"#
        return ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    }()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        if buffer.readableBytes == Self.bare.readableBytes, buffer == Self.bare {
            context.write(wrapOutboundOut(Self.json), promise: promise)
        } else {
            context.write(data, promise: promise)
        }
    }
}
