import Foundation
import RPC

/// The calls `compose/stack.json` lists under `bootstrap`, made once the stack
/// is up, through each service's public methods with a provisioned token.
enum Bootstrap {
    /// A bootstrap call may wait this long: the service was just reported SERVING.
    static let callTimeoutSeconds: Int64 = 10

    /// Makes every call in order; stops at the first that fails.
    /// - Parameters:
    ///   - calls: the calls.
    ///   - directory: the run directory (sockets and tokens).
    ///   - quiet: print nothing on success (for `--json`).
    /// - Throws: `ExitCode` 1 after saying which call failed and why.
    static func run(_ calls: [StackDefinition.BootstrapCall], in directory: RunDirectory, quiet: Bool) async throws {
        var done = 0
        for call in calls {
            let client = try RPCClient(service: call.service, directory: directory, identity: call.identity)
            defer { Task { await client.close() } }
            do {
                _ = try await client.call(call.method, call.params, as: JSONValue.self, options: CallOptions(timeout: .seconds(callTimeoutSeconds), idempotent: true))
                done += 1
            } catch let error as RPCError where call.accept.contains(error.reason) {
                done += 1  // already done on an earlier start
            } catch let error as RPCError {
                Output.err("error: bootstrap call \(call.service) \(call.method) \(call.params.jsonText()) failed: \(error.status.name)/\(error.reason): \(error.message)")
                Output.err("the stack is up, but its bootstrap is incomplete; fix compose/stack.json, then run `hitl stack up` again after `hitl stack down`")
                throw HitlExit.rpcError.exitCode
            }
        }
        if !quiet, !calls.isEmpty { Output.err("bootstrap: \(done) call(s) made (compose/stack.json)") }
    }
}
