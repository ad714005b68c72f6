import CCurl
import Foundation
import NIOPosix
import Synchronization

/// An HTTP POST: to an LLM provider, or a webhook receiver.
public struct HTTPRequest: Sendable {
    /// The full URL.
    public var url: String
    /// Header lines (name, value). Secrets go here and nowhere else.
    public var headers: [(String, String)]
    /// The JSON body (always POST).
    public var body: Data
    /// How long connecting may take.
    public var connectTimeout: Duration
    /// How long the whole exchange may take, streaming included.
    public var totalTimeout: Duration
    /// Connect to this Unix socket instead of the URL's host and port (the
    /// URL still names the path and the Host header): the stack's model
    /// simulator listens on one in the run directory.
    public var unixSocketPath: String?

    /// - Parameters: see the properties.
    public init(
        url: String, headers: [(String, String)], body: Data, connectTimeout: Duration, totalTimeout: Duration,
        unixSocketPath: String? = nil
    ) {
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.unixSocketPath = unixSocketPath
    }
}

/// An HTTP response (the body is complete, or empty when it was streamed).
public struct HTTPResponse: Sendable {
    /// The status code.
    public let status: Int
    /// Headers, names lowercased.
    public let headers: [String: String]
    /// The body, up to ``CurlTransport/maximumBodyBytes``.
    public let body: Data

    /// - Parameters: see the properties.
    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Sends HTTP requests. The agent uses ``CurlTransport``; tests may substitute.
public protocol HTTPTransport: Sendable {
    /// Sends a request.
    /// - Parameters:
    ///   - request: the request.
    ///   - onBody: when set, successful (2xx) body bytes are handed over as they
    ///     arrive instead of being collected.
    /// - Throws: ``TransportError`` when the exchange fails below HTTP.
    func send(_ request: HTTPRequest, onBody: (@Sendable (Data) -> Void)?) async throws -> HTTPResponse
}

/// Why an HTTP exchange failed below HTTP.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    /// libcurl's code (`CURLE_*`).
    public let code: Int
    /// libcurl's description, without URL credentials.
    public let message: String
    /// Whether the timeout ended it.
    public var timedOut: Bool { code == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
    /// Whether nothing could connect (safe to retry).
    public var couldNotConnect: Bool {
        [CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST].map { Int($0.rawValue) }.contains(code)
    }

    public var description: String { "HTTP transport failed (curl \(code)): \(message)" }
}

/// HTTP through libcurl's easy interface, each transfer on a dedicated thread
/// of a bounded pool (curl_easy_perform blocks; the cooperative pool must not).
/// Easy handles are reused, so consecutive requests to one provider (or to the
/// simulator's socket) ride one keep-alive connection instead of connecting each time.
public final class CurlTransport: HTTPTransport {
    /// Concurrent transfers: each holds a thread for the length of an LLM call.
    public static let maximumConcurrentTransfers = 16
    /// The most body kept in memory: no provider reply to these requests is near it.
    public static let maximumBodyBytes = 8 << 20

    private let pool: NIOThreadPool
    /// One easy handle per transfer thread, kept with its keep-alive connections.
    private let handles = CurlHandlePool(capacity: CurlTransport.maximumConcurrentTransfers)

    /// The process-wide transport.
    public static let shared = CurlTransport()

    private init() {
        _ = Self.globalInit
        pool = NIOThreadPool(numberOfThreads: Self.maximumConcurrentTransfers)
        pool.start()
    }

    static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    public func send(_ request: HTTPRequest, onBody: (@Sendable (Data) -> Void)?) async throws -> HTTPResponse {
        let cancelled = CancelFlag()
        return try await withTaskCancellationHandler {
            try await pool.runIfActive { [handles] in try CurlTransfer(request: request, onBody: onBody, cancelled: cancelled).perform(handles: handles) }
        } onCancel: {
            cancelled.set()
        }
    }

    /// Sends one message over SMTP (`smtp://host:port`), on the transfer pool.
    /// - Parameters:
    ///   - url: the server, e.g. `smtp://127.0.0.1:2525`.
    ///   - from: the envelope sender.
    ///   - recipients: the envelope recipients.
    ///   - message: the whole RFC 5322 message (headers, blank line, body).
    ///   - timeout: how long the exchange may take.
    /// - Throws: ``TransportError``.
    public func sendMail(url: String, from: String, to recipients: [String], message: [UInt8], timeout: Duration) async throws {
        try await pool.runIfActive { try CurlMail(url: url, from: from, recipients: recipients, message: message, timeout: timeout).perform() }
    }
}

/// Set when the caller stops waiting; the transfer aborts at its next callback.
final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
