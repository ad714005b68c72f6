import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import RPC
import Synchronization

/// The HTTP gateway: the seed's Pattern 1 (SSE chat, `POST /execute`) and the
/// human side of Pattern 2 (approve/reject links), plus the approval web page.
/// It owns no data; everything goes through the services' RPC clients.
public final class Gateway: Sendable {
    let configuration: GatewayConfiguration
    let upstream: Upstream
    let sessions: SessionStore
    let streams: StreamLimiter
    let logger: Logger

    /// - Parameters:
    ///   - configuration: where to listen, whom to call, the limits.
    ///   - identities: the stack's identities as they stand (sign-in checks tokens here;
    ///     a session whose person was removed ends at its next request).
    ///   - logger: where the gateway logs.
    /// - Throws: ``RunDirectoryError`` when the gateway's own token is missing.
    public init(configuration: GatewayConfiguration, identities: LiveIdentities, logger: Logger) throws {
        self.configuration = configuration
        self.upstream = try Upstream(configuration: configuration)
        self.sessions = SessionStore(
            identities: identities, idleTimeout: configuration.sessionIdleTimeout, maximumSessions: configuration.maximumSessions)
        self.streams = StreamLimiter(maximum: configuration.maximumStreams)
        self.logger = logger
    }

    /// Closes the connections to the services.
    public func close() async {
        await upstream.close()
    }

    /// The HTTP application (a ServiceLifecycle `Service`).
    /// - Parameter onServerRunning: called with the bound port once listening.
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: GatewayContext.self)
        let table = RouteTable()
        let routes = Routes(router: router, table: table)
        router.add(middleware: GatewayMiddleware(logger: logger, routes: table))
        addPageRoutes(to: routes)
        addSessionRoutes(to: routes)
        addRunRoutes(to: routes)
        addApprovalRoutes(to: routes)
        addLinkRoutes(to: routes)
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: TimeAmount.nanoseconds(
                configuration.idleTimeout.components.seconds * 1_000_000_000 + configuration.idleTimeout.components.attoseconds / 1_000_000_000))),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "hitl-gateway",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maximumConnections)),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}

/// Counts open event streams against ``GatewayConfiguration/maximumStreams``.
final class StreamLimiter: Sendable {
    private let open = Atomic<Int>(0)
    let maximum: Int

    init(maximum: Int) { self.maximum = maximum }

    /// A slot for one stream, released when the slot is released (the response body is done with).
    /// - Throws: 503 TOO_MANY_STREAMS when all are taken.
    func acquire() throws -> Slot {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        guard now <= maximum else {
            open.wrappingSubtract(1, ordering: .relaxed)
            throw GatewayError(.serviceUnavailable, code: "RESOURCE_EXHAUSTED", reason: "TOO_MANY_STREAMS",
                               "\(maximum) event streams are open already; close one or try again shortly")
        }
        return Slot(limiter: self)
    }

    var current: Int { open.load(ordering: .relaxed) }

    final class Slot: Sendable {
        let limiter: StreamLimiter
        init(limiter: StreamLimiter) { self.limiter = limiter }
        deinit { limiter.open.wrappingSubtract(1, ordering: .relaxed) }
    }
}

extension Gateway {
    /// The RPC side's name, version and contract (`Protocols/gateway.openrpc.json`:
    /// only the methods every service shares).
    public static func description() throws -> RPCServiceDescription {
        try RPCServiceDescription(name: "gateway", openRPC: PackageResources.gateway_openrpc_json)
    }
}
