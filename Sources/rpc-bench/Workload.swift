import Foundation
import RPC

/// One method the benchmark calls, as the raw line the blocking client sends
/// and as the typed call `RPCClient` makes.
struct Workload: Sendable {
    /// The JSON-RPC method.
    let method: String
    /// The request line, `\n` included, shaped exactly like the line `RPCClient`
    /// sends (`_meta` with `deadline_ms`, `traceparent` and, where the method
    /// needs one, `token`), so both clients cost the server the same work.
    let line: String
    /// True when a response line is the expected success.
    let accepts: @Sendable (String) -> Bool
    /// One call through `RPCClient`, checked.
    let call: @Sendable (RPCClient) async throws -> Void

    /// The echoed value: 100 bytes, "an echo-sized payload".
    static let echoValue = String(repeating: "0123456789", count: 10)

    /// `health.check`: public, inline on the event loop, no params.
    static func healthCheck() -> Workload {
        Workload(
            method: "health.check",
            line: requestLine(method: "health.check", params: "", token: nil),
            accepts: { $0.contains("\"result\"") && $0.contains("\"SERVING\"") },
            call: { client in
                let health = try await client.call("health.check", NoParams(), as: HealthResult.self)
                guard health.status == .serving else { throw BenchError("health.check answered \(health.status)") }
            })
    }

    /// `echo.echo` with a 100-byte string: needs a token, runs as a task.
    static func echo(token: String) -> Workload {
        Workload(
            method: "echo.echo",
            line: requestLine(method: "echo.echo", params: "\"value\":\"\(echoValue)\",", token: token),
            accepts: { $0.contains("\"result\"") && $0.contains(echoValue) },
            call: { client in
                let echoed = try await client.call("echo.echo", EchoValue(value: echoValue), as: EchoValue.self)
                guard echoed.value == echoValue else { throw BenchError("echo.echo answered another value") }
            })
    }

    /// A fixed trace context, well-formed, so the server parses it as it would a real one.
    private static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    private static func requestLine(method: String, params: String, token: String?) -> String {
        let tokenField = token.map { ",\"token\":\"\($0)\"" } ?? ""
        return """
            {"jsonrpc":"2.0","id":1,"method":"\(method)","params":{\(params)"_meta":{"deadline_ms":30000,\
            "traceparent":"\(traceparent)"\(tokenField)}}}

            """
    }
}

/// `echo.echo`'s params and result.
struct EchoValue: Codable, Sendable {
    let value: String
}

/// A benchmark failure, said plainly.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
