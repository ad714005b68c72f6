import Foundation

/// The methods every service serves, none needing a token (as in gRPC health
/// checking): `health.check`, `health.watch`, `rpc.discover`, `rpc.cancel` and
/// `rpc.stats` (counts of what the service did, no content).
enum BuiltinMethods {
    static let cancel = "rpc.cancel"

    static func install(into builder: inout RPCRouterBuilder, description: RPCServiceDescription, state: ServerState) {
        let startedAt = Date()
        let pid = Int64(getpid())  // read once: a system call on every health.check otherwise
        let health = { @Sendable () -> HealthResult in
            HealthResult(
                status: state.status, service: description.name, version: description.version,
                pid: pid, uptimeMs: Int64(Date().timeIntervalSince(startedAt) * 1000))
        }
        builder.registerInline("health.check", params: NoParams.self, options: .init(access: .public)) { _, _ in health() }
        builder.register("health.watch", params: NoParams.self, options: .init(access: .public, streaming: true)) { _, context in
            var last = state.status
            for await status in state.watch() {
                last = status
                context.emit(HealthEvent(status: status))
                if status == .notServing, state.isDraining { break }
            }
            return HealthEvent(status: last)
        }
        let document = description.document
        builder.registerInline("rpc.discover", params: NoParams.self, options: .init(access: .public)) { _, _ in document }
        builder.registerInline("rpc.stats", params: NoParams.self, options: .init(access: .public)) { _, _ in
            let writes = ServiceStatistics.durableWrites
            return ServiceStats(calls: state.calls, durableWrites: writes.requests, commits: writes.commits)
        }
        builder.registerInline(cancel, params: CancelParams.self, options: .init(access: .public)) { _, _ -> CancelResult in
            // The connection handler answers rpc.cancel itself: only it knows the calls in flight.
            throw RPCError.internalError("rpc.cancel reached its placeholder body")
        }
    }
}

/// `health.check` result.
public struct HealthResult: Codable, Sendable, Equatable {
    /// `SERVING` or `NOT_SERVING` (draining).
    public let status: HealthStatus
    /// The service's short name.
    public let service: String
    /// The service's version.
    public let version: String
    /// The serving process, so operators and tests can find it.
    public let pid: Int64
    /// Milliseconds since the service started.
    public let uptimeMs: Int64

    enum CodingKeys: String, CodingKey {
        case status, service, version, pid
        case uptimeMs = "uptime_ms"
    }
}

/// `health.watch` event and result.
public struct HealthEvent: Codable, Sendable, Equatable {
    /// The new status.
    public let status: HealthStatus
}

/// `rpc.cancel` params.
struct CancelParams: Codable, Sendable {
    let id: RPCID
}

/// `rpc.cancel` result.
struct CancelResult: Codable, Sendable {
    /// False when no call with that id was in flight on this connection.
    let cancelled: Bool
}
