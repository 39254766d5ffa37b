import DiagnosisModel
import Foundation
import Logging
import NIOCore
import RunnerProtocol

/// A runner's connection: its hello and token, the job frame, then frames both ways until it
/// hangs up (the exchange itself is RunnerExchange).
extension RunnerSupervisor {
    /// What a hello's token belongs to: a runner started for a job, or a warm runner.
    enum Claimed {
        case spawn(Spawn)
        case warm(WarmRunner)
    }

    /// Matches a hello to its spawn or warm runner (``RunnerTokens``).
    private func claim(token: String, peerPID: Int32?) -> Result<Claimed, RunnerTokens.Rejection> {
        if let rejection = tokens.claim(token, peerPID: peerPID) { return .failure(rejection) }
        if let spawn = spawnsByToken[token] {
            // A warm runner taken for a job before its hello arrived.
            return .success(.spawn(spawn))
        }
        guard let warm = warmByToken[token] else { return .failure(.unknownToken) }
        warmFailuresInARow = 0
        return .success(.warm(warm))
    }

    /// Serves one runner connection: hello → job → relay until the stream ends.
    /// `local`: the Unix socket, where the peer's pid is known (`SO_PEERCRED`).
    nonisolated func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, maxFrameBytes: Int, local: Bool = true) async {
        let peer = local ? await connection.channel.peerCredentials() : nil
        let logger = self.logger
        try? await connection.executeThenClose { inbound, outbound in
            var reader = FrameReader(inbound: inbound.makeAsyncIterator(), decoder: FrameDecoder(maxFrameBytes: maxFrameBytes))
            func reject(_ code: String, _ message: String) async {
                logger.warning("rejected runner connection (pid \(peer?.pid ?? -1)): \(message)")
                try? await outbound.write(ByteBuffer(bytes: MessageCodec.frame(.error(ProtocolErrorBody(code: code, message: message)))))
            }
            // 1. hello, within the connect timeout; a live token from the spawned pid.
            let hello: Hello
            switch await readHello(&reader, channel: connection.channel, peerPID: peer?.pid) {
            case .failure(.rejected(let code, let message)):
                await reject(code, message)
                return
            case .failure(.gone):
                return
            case .success(let first):
                hello = first
            }
            let spawn: Spawn
            switch await claim(token: hello.token, peerPID: peer?.pid) {
            case .failure(let rejection):
                await reject("unauthorized", rejection.description)
                return
            case .success(.spawn(let accepted)):
                spawn = accepted
            case .success(.warm(let warm)):
                // Held open, idle, until a job is assigned; nil: retired or gone.
                guard let assigned = await warm.waitForJob() else { return }
                spawn = assigned
            }
            spawn.signals.yield(.connected)
            // 2. the job, then relay both ways until the runner hangs up.
            do {
                try await outbound.write(ByteBuffer(bytes: MessageCodec.frame(.job(spawn.job), maxFrameBytes: maxFrameBytes)))
            } catch {
                spawn.signals.yield(.connectionClosed(.jobNotSent("\(error)")))
                return
            }
            await Self.relay(spawn, reader: &reader, outbound: outbound, maxFrameBytes: maxFrameBytes)
        }
    }

    /// Why no hello arrived: a bad first frame (answered with an error frame), or the
    /// connection went away.
    enum HelloRejection: Error {
        case rejected(code: String, message: String)
        case gone
    }

    /// The first frame, which must be a hello, within the connect timeout (closing the channel
    /// ends the read).
    private nonisolated func readHello(_ reader: inout FrameReader, channel: any Channel, peerPID: Int32?) async -> Result<Hello, HelloRejection> {
        let connectTimeout = settings.connectTimeout
        let logger = self.logger
        let timer = Task {
            try await Task.sleep(for: connectTimeout)
            logger.warning("closing runner connection (pid \(peerPID ?? -1)): no hello within \(connectTimeout)")
            try? await channel.close()
        }
        defer { timer.cancel() }
        do {
            guard case .hello(let hello)? = try await reader.next() else {
                return .failure(.rejected(code: "expected_hello", message: "the first frame must be hello"))
            }
            return .success(hello)
        } catch let error as FrameError {
            return .failure(.rejected(code: error.code, message: error.description))
        } catch {
            return .failure(.gone)
        }
    }

    /// Runner frames become signals; the supervisor's frames (cancel) go out; a malformed frame
    /// is answered with an error frame and ends the connection.
    private static func relay(
        _ spawn: Spawn, reader: inout FrameReader, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, maxFrameBytes: Int
    ) async {
        let sender = Task {
            for await message in spawn.outbound {
                guard let frame = try? MessageCodec.frame(message, maxFrameBytes: maxFrameBytes) else { continue }
                try? await outbound.write(ByteBuffer(bytes: frame))
            }
        }
        var closeReason: RunnerExchange.Failure?
        do {
            while let message = try await reader.next() { spawn.signals.yield(.message(message)) }
        } catch let error as FrameError {
            closeReason = .protocolError(error.description)
            if let frame = try? MessageCodec.frame(.error(ProtocolErrorBody(code: error.code, message: error.description))) {
                try? await outbound.write(ByteBuffer(bytes: frame))
            }
        } catch {
            closeReason = .connectionError("\(error)")
        }
        spawn.signals.yield(.connectionClosed(closeReason))
        sender.cancel()
        spawn.outboundContinuation.finish()
    }
}

/// Reads messages from a stream of byte buffers.
struct FrameReader {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var decoder: FrameDecoder

    /// The next message; nil at a clean end of stream.
    mutating func next() async throws -> RunnerMessage? {
        while true {
            if let frame = try decoder.nextFrame() { return try MessageCodec.decode(frame) }
            guard let buffer = try await inbound.next() else {
                try decoder.finish()
                return nil
            }
            decoder.append(buffer.readableBytesView)
        }
    }
}
