import CurlKit
import Foundation
import Hummingbird
import LLM
import Logging
import ModelSimulator
import RPC

/// `model-sim --replay DIR`: answers each request with the response a real model
/// gave to it, byte for byte, from the transcripts in DIR.
final class ReplayEndpoint: Sendable {
    let library: TranscriptLibrary
    let logger: Logger

    init(library: TranscriptLibrary, logger: Logger) {
        self.library = library
        self.logger = logger
    }

    func handle(_ request: Request, api: LLMAPI) async throws -> Response {
        let bytes = try await request.body.collect(upTo: SimulatorEndpoint.maximumBodyBytes)
        let key: ReplayKey
        do {
            key = ReplayKey(try SimulatorRequest(body: try JSONValue(parsing: String(buffer: bytes)), api: api))
        } catch {
            return SimulatorEndpoint.error(status: .badRequest, message: "the request is not a valid \(api.rawValue) request: \(error)")
        }
        guard let exchange = library.exchanges[key] else {
            logger.warning("no recorded exchange", metadata: ["replay.key": "\(key)"])
            return SimulatorEndpoint.error(
                status: .notFound,
                message: "model-sim --replay has no recorded answer to \(key); record one with model-sim --record, or replay another directory")
        }
        logger.debug("replayed", metadata: ["replay.key": "\(key)"])
        return Response(
            status: .init(code: exchange.status), headers: [.contentType: exchange.contentType],
            body: .init(byteBuffer: ByteBuffer(string: exchange.response)))
    }
}

/// `model-sim --record DIR --upstream URL`: passes each request to a real model
/// unchanged, returns its answer unchanged, and writes both into a transcript.
final class RecordingProxy: Sendable {
    let upstream: String
    /// How long one upstream request may take; past it the connection closes, which
    /// also stops a server (llama.cpp) that would otherwise go on generating.
    let timeout: Duration
    let recorder: TranscriptRecorder
    let transport: any HTTPTransport
    let logger: Logger

    init(upstream: String, timeout: Duration, recorder: TranscriptRecorder, transport: any HTTPTransport = CurlTransport.shared, logger: Logger) {
        self.upstream = upstream.hasSuffix("/") ? String(upstream.dropLast()) : upstream
        self.timeout = timeout
        self.recorder = recorder
        self.transport = transport
        self.logger = logger
    }

    func handle(_ request: Request, api: LLMAPI) async throws -> Response {
        let bytes = try await request.body.collect(upTo: SimulatorEndpoint.maximumBodyBytes)
        let body = Data(bytes.readableBytesView)
        let suffix = api == .chat ? "/chat/completions" : "/responses"
        var headers = [("Content-Type", "application/json")]
        if let accept = request.headers[.accept] { headers.append(("Accept", accept)) }
        if let authorization = request.headers[.authorization] { headers.append(("Authorization", authorization)) }
        let answer: CurlKit.HTTPResponse
        do {
            answer = try await transport.send(
                CurlKit.HTTPRequest(url: upstream + suffix, headers: headers, body: body, connectTimeout: .seconds(5), totalTimeout: timeout),
                onBody: nil)
        } catch {
            return SimulatorEndpoint.error(status: .badGateway, message: "the upstream model at \(upstream) could not be reached: \(error)")
        }
        let contentType = answer.headers["content-type"] ?? "application/json"
        if (200..<300).contains(answer.status) {
            do {
                let file = try recorder.record(path: "/v1" + suffix, request: body, status: answer.status, contentType: contentType, response: answer.body)
                logger.info("recorded", metadata: ["transcript": "\(file)"])
            } catch {
                logger.error("not recorded", metadata: ["error": "\(error)"])
            }
        } else {
            logger.warning("upstream failed; not recorded", metadata: ["status": "\(answer.status)"])
        }
        return Response(
            status: .init(code: answer.status), headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
