import NIOCore

/// How one client call is made.
public struct CallOptions: Sendable {
    /// The budget when no ``deadline`` is given.
    public var timeout: TimeAmount
    /// An absolute deadline; wins over ``timeout``.
    public var deadline: NIODeadline?
    /// Whether repeating the call is harmless (it carries an idempotency key,
    /// or only reads). Only idempotent calls are retried after the connection
    /// dropped with the call possibly executed.
    public var idempotent: Bool
    /// The trace to continue; a new one is started when nil.
    public var trace: TraceContext?
    /// The token to present instead of the client's own.
    public var token: String?
    /// How long to keep retrying a service that cannot be reached (restarting,
    /// draining); nil: until the deadline. A person at a terminal wants an
    /// answer in seconds; a service calling a restarting peer wants the whole budget.
    public var retryWindow: TimeAmount?

    /// - Parameters:
    ///   - timeout: the budget (default 30 s).
    ///   - idempotent: whether a retry after a possible execution is safe.
    ///   - trace: the trace to continue.
    ///   - deadline: an absolute deadline.
    ///   - token: overrides the client's token for this call.
    public init(
        timeout: TimeAmount = .seconds(30), idempotent: Bool = false, trace: TraceContext? = nil,
        deadline: NIODeadline? = nil, token: String? = nil, retryWindow: TimeAmount? = nil
    ) {
        self.retryWindow = retryWindow
        self.timeout = timeout
        self.idempotent = idempotent
        self.trace = trace
        self.deadline = deadline
        self.token = token
    }

    /// Options for a call made while serving `context`: the caller's remaining
    /// deadline and the same trace, passed downstream.
    /// - Parameters:
    ///   - context: the call being served.
    ///   - idempotent: whether a retry after a possible execution is safe.
    public static func within(_ context: RPCContext, idempotent: Bool = false) -> CallOptions {
        CallOptions(idempotent: idempotent, trace: context.trace, deadline: context.deadline)
    }

    /// How retries back off: exponential from 25 ms, capped at 1 s, with full jitter,
    /// always inside the deadline.
    public static let retryBase: TimeAmount = .milliseconds(25)
    /// The longest pause between two attempts.
    public static let retryCap: TimeAmount = .seconds(1)
}

/// `{"jsonrpc":"2.0","id":<id>,"method":<method>,"params":{...params, "_meta":{...}}}`
struct OutgoingRequest<Params: Encodable>: Encodable {
    let id: Int64?
    let method: String
    let params: Params
    let meta: RequestMeta

    enum Keys: String, CodingKey { case jsonrpc, id, method, params }
    enum MetaKeys: String, CodingKey { case _meta }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode("2.0", forKey: .jsonrpc)
        if let id { try container.encode(id, forKey: .id) }
        try container.encode(method, forKey: .method)
        let paramsEncoder = container.superEncoder(forKey: .params)
        try params.encode(to: paramsEncoder)
        if !meta.isEmpty {
            var metaContainer = paramsEncoder.container(keyedBy: MetaKeys.self)
            try metaContainer.encode(meta, forKey: ._meta)
        }
    }
}

/// Decodes the parts of an incoming line the client routes by.
struct IncomingHead: Decodable {
    struct EventParams: Decodable {
        let requestID: RPCID?
        enum CodingKeys: String, CodingKey { case requestID = "request_id" }
    }
    let id: RPCID?
    let method: String?
    let params: EventParams?
}

/// A response's body, decoded by the caller into its own result type.
struct ResponseBody<Result: Decodable>: Decodable {
    let result: Result?
    let error: ErrorObject?
    let hasResult: Bool

    enum Keys: String, CodingKey { case result, error }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        hasResult = container.contains(.result)
        error = try container.decodeIfPresent(ErrorObject.self, forKey: .error)
        result = error == nil ? try container.decode(Result.self, forKey: .result) : nil
    }
}

/// An event notification's params, typed.
struct EventBody<Event: Decodable>: Decodable {
    let params: Event
}
