import Foundation

/// Runs async handler bodies off the event loop.
enum CallRunner {
    /// Runs an async body and encodes its outcome, off the event loop.
    static func run(
        _ body: @Sendable (any Sendable, RPCContext) async throws -> any Encodable & Sendable,
        params: any Sendable, context: RPCContext, id: RPCID, quiet: Bool
    ) async -> Data? {
        do {
            let result = try await body(params, context)
            return quiet ? nil : try ResponseEncoder().success(id: id, result: result)
        } catch {
            return quiet ? nil : ResponseEncoder().failure(id: id, error: RPCServerHandler.wireError(error, logger: context.logger))
        }
    }

}
