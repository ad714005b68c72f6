import Foundation
import RPC

/// The RPC core's test service: typed params, errors, deadlines, cancellation,
/// streaming and identity, with no domain logic at all.
public enum EchoService {
    /// The service's name, version and contract.
    public static func description() throws -> RPCServiceDescription {
        try RPCServiceDescription(name: "echo", openRPC: PackageResources.echo_openrpc_json)
    }

    /// Registers the echo methods.
    /// - Parameter router: the router being built.
    public static func register(_ router: inout RPCRouterBuilder) {
        router.register("echo.echo", params: EchoParams.self) { params, _ in params }
        router.registerInline("echo.add", params: AddParams.self) { params, _ in
            let (sum, overflow) = params.a.addingReportingOverflow(params.b)
            guard !overflow else { throw RPCError(.outOfRange, reason: "OVERFLOW", "the sum does not fit in 64 bits") }
            return SumResult(sum: sum)
        }
        router.register("echo.sleep", params: SleepParams.self) { params, _ in
            guard (0...600_000).contains(params.ms) else {
                throw RPCError.invalidParams(field: "ms", "must be between 0 and 600000")
            }
            try await Task.sleep(for: .milliseconds(params.ms))
            return SleepResult(sleptMs: params.ms)
        }
        router.register("echo.stream", params: StreamParams.self, options: .init(streaming: true)) { params, context in
            guard (0...10_000).contains(params.count) else {
                throw RPCError.invalidParams(field: "count", "must be between 0 and 10000")
            }
            for seq in 0..<params.count {
                if let interval = params.intervalMs, interval > 0 { try await Task.sleep(for: .milliseconds(interval)) }
                try Task.checkCancellation()
                context.emit(StreamEvent(seq: seq))
            }
            return StreamResult(sent: params.count)
        }
        router.registerInline("echo.fail", params: FailParams.self) { params, _ -> SumResult in
            guard let status = RPCStatus(name: params.status), status != .ok else {
                throw RPCError.invalidParams(field: "status", "must be a gRPC status name other than OK")
            }
            // The contract's pattern: a reason that is not upper snake case would put an
            // error on the wire that breaks the protocol's own rules (found by rpc-fuzz).
            guard params.reason.range(of: "^[A-Z][A-Z0-9_]*$", options: .regularExpression) != nil else {
                throw RPCError.invalidParams(field: "reason", "must be upper snake case, like NOT_FOUND")
            }
            // An empty message would leave the caller without "what went wrong" (found by rpc-fuzz).
            let message = params.message.flatMap { $0.isEmpty ? nil : $0 } ?? "failed as requested"
            throw RPCError(status, reason: params.reason, message)
        }
        router.registerInline("echo.whoami", params: NoParams.self) { _, context in
            let identity = try context.requireIdentity()
            return WhoAmI(name: identity.name, role: identity.role, traceID: context.trace.traceID)
        }
        router.registerInline("echo.operator_only", params: NoParams.self, options: .init(access: .roles(["operator"]))) { _, _ in
            ["ok": true]
        }
    }
}

struct EchoParams: Codable, Sendable { let value: JSONValue }
struct AddParams: Codable, Sendable { let a: Int64; let b: Int64 }
struct SumResult: Codable, Sendable { let sum: Int64 }
struct SleepParams: Codable, Sendable { let ms: Int64 }
struct SleepResult: Codable, Sendable {
    let sleptMs: Int64
    enum CodingKeys: String, CodingKey { case sleptMs = "slept_ms" }
}
struct StreamParams: Codable, Sendable {
    let count: Int
    let intervalMs: Int64?
    enum CodingKeys: String, CodingKey {
        case count
        case intervalMs = "interval_ms"
    }
}
struct StreamEvent: Codable, Sendable { let seq: Int }
struct StreamResult: Codable, Sendable { let sent: Int }
struct FailParams: Codable, Sendable { let status: String; let reason: String; let message: String? }
struct WhoAmI: Codable, Sendable {
    let name: String
    let role: String
    let traceID: String
    enum CodingKeys: String, CodingKey {
        case name, role
        case traceID = "trace_id"
    }
}
