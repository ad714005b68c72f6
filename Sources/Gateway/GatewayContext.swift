import HTTPTypes
import Hummingbird
import Logging
import RPC

/// The request context: Hummingbird's core plus the request's trace, which
/// every call to a service continues and every log line names.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The W3C trace of this request (a fresh one, or the caller's `traceparent`).
    public var trace: TraceContext = .random()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Bodies are read explicitly with the gateway's own limit; this is the backstop.
    public var maxUploadSize: Int { 1 << 20 }
}

/// Continues the caller's `traceparent`, writes one log line per request
/// (never the path of a link, which is a credential), and adds the security
/// headers every answer carries.
struct GatewayMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let logger: Logger
    /// What is served where, for 404 and 405.
    let routes: RouteTable

    /// What a browser may do with what the gateway serves: its own scripts and
    /// styles only, no framing, no sniffing, and no referrer to other sites
    /// (link URLs carry tokens). `same-origin`, not `no-referrer`: with the latter
    /// browsers send `Origin: null` on the link form's POST, which the origin check refuses.
    static let securityHeaders: [(HTTPField.Name, String)] = [
        (.contentSecurityPolicy,
         "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("X-Frame-Options")!, "DENY"),
        (HTTPField.Name("Referrer-Policy")!, "same-origin"),
    ]

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[HTTPField.Name("traceparent")!], let parent = TraceContext(traceparent: header) {
            context.trace = parent.child()
        }
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            response = try routes.unserved(request).response(from: request, context: context)
        } catch {
            let failure = GatewayError.from(error)
            if failure.code == "INTERNAL" { logger.error("request failed", metadata: ["trace.id": "\(context.trace.traceID)", "error": "\(error)"]) }
            response = try failure.response(from: request, context: context)
        }
        for (name, value) in Self.securityHeaders where response.headers[name] == nil { response.headers[name] = value }
        let elapsed = ContinuousClock.now - started
        logger.info("\(request.method) \(Self.loggablePath(request.uri.path)) \(response.status.code)", metadata: [
            "trace.id": "\(context.trace.traceID)", "http.ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
        ])
        return response
    }

    /// The path with a link token replaced, so logs hold no credentials.
    static func loggablePath(_ path: String) -> String {
        for prefix in ["/a/", "/links/"] where path.hasPrefix(prefix) { return prefix + "<token>" }
        return path
    }
}
