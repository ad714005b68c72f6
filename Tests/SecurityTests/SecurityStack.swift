import Foundation
import RPC
import RPCFuzz
import RPCTesting
import Testing

/// The repository's root, for `compose/policy.json`.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The whole stack (every service and model-sim) on a private home, as the fuzzer starts it.
func withStack(
    logLevel: String? = nil, environment: [String: String] = [:], keepHome: Bool = false, _ body: (FuzzStack) async throws -> Void
) async throws {
    let stack = try await FuzzStack.start(
        policy: repositoryRoot.appendingPathComponent("compose/policy.json").path, logLevel: logLevel, environment: environment)
    do {
        try await body(stack)
    } catch {
        await stack.stop()
        throw error
    }
    await stack.stop(keepHome: keepHome)
}

/// One call's outcome: the result, or the error's reason.
enum Outcome: Equatable, CustomStringConvertible {
    case result(JSONValue)
    case refused(status: String, reason: String)

    var reason: String? {
        if case .refused(_, let reason) = self { return reason }
        return nil
    }

    var description: String {
        switch self {
        case .result(let value): "result \(value.jsonText().prefix(200))"
        case .refused(let status, let reason): "\(status)/\(reason)"
        }
    }
}

extension FuzzStack {
    /// Calls `method` on `service` with `identity`'s token (nil: none).
    func call(_ service: String, _ method: String, _ params: JSONValue = .object([:]), as identity: String?) async throws -> Outcome {
        let client = try home.client(service, as: identity)
        defer { Task { await client.close() } }
        do {
            return .result(try await client.call(method, params, as: JSONValue.self))
        } catch let error as RPCError {
            return .refused(status: error.status.name, reason: error.reason)
        }
    }
}

extension JSONValue {
    /// A copy of this object with `key` set to `value`.
    func with(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members[key] = value
        return .object(members)
    }
}
