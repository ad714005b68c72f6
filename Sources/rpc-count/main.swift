import CPingPong
import EchoService
import Foundation
import RPC
import RPCTesting
import ServiceKit
import Synchronization

// rpc-count: the processes rpc-bench runs under callgrind to count instructions per
// round trip, client and server apart. Its main is synchronous on purpose: an async
// main parks the main thread in dispatch_main (pthread_exit with a TSD destructor),
// and valgrind 3.19, Debian 12's, crashes on that ("the 'impossible' happened",
// SIGSEGV in libdispatch's data) before the first instruction is counted. Here the
// main thread waits on a semaphore instead; the code measured is the same.
//
//   rpc-count serve-echo --home <dir>          EchoService on the RPC core, as echo-svc
//   rpc-count serve-c <socket>                 the C line ping-pong
//   rpc-count serve-nio <socket>               SwiftNIO echoing lines, no JSON (the floor)
//   rpc-count client <blocking|rpc-client|nio> <socket> <health|echo> <warm-up> <round trips> [token]
//
// The client warms up, prints "ready", waits for a line on standard input (the counters
// are zeroed meanwhile), makes its round trips, prints "done" and waits for another line
// (the counters are dumped meanwhile) before it exits.

/// Runs `body` on the cooperative pool and blocks the calling thread until it ends.
func blocking(_ body: @escaping @Sendable () async throws -> Void) {
    let done = DispatchSemaphore(value: 0)
    let failure = Mutex<(any Error)?>(nil)
    Task {
        do { try await body() } catch { failure.withLock { $0 = error } }
        done.signal()
    }
    done.wait()
    if let error = failure.withLock({ $0 }) { fail("\(error)") }
}

/// Says what went wrong and exits 2.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("rpc-count: \(message)\n".utf8))
    exit(2)
}

/// Writes `word` and a newline on standard output, then waits for a line on standard input.
func handshake(_ word: String) {
    FileHandle.standardOutput.write(Data((word + "\n").utf8))
    _ = readLine()
}

/// `echo.echo`'s params and result, as rpc-bench sends them.
struct EchoValue: Codable, Sendable {
    let value: String
}

/// The request lines and calls of `rpc-bench`'s two workloads.
struct CountedCall: Sendable {
    let line: String
    let call: @Sendable (RPCClient) async throws -> Void
}

func countedCall(_ name: String, token: String?) -> CountedCall {
    let value = String(repeating: "0123456789", count: 10)
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    switch name {
    case "health":
        return CountedCall(
            line: #"{"jsonrpc":"2.0","id":1,"method":"health.check","params":{"_meta":{"deadline_ms":30000,"traceparent":"\#(traceparent)"}}}"# + "\n",
            call: { client in _ = try await client.call("health.check", NoParams(), as: HealthResult.self) })
    case "echo":
        guard let token else { fail("echo needs a token") }
        return CountedCall(
            line: #"{"jsonrpc":"2.0","id":1,"method":"echo.echo","params":{"value":"\#(value)","_meta":{"deadline_ms":30000,"traceparent":"\#(traceparent)","token":"\#(token)"}}}"# + "\n",
            call: { client in
                let echoed = try await client.call("echo.echo", EchoValue(value: value), as: EchoValue.self)
                guard echoed.value == value else { fail("echo.echo answered another value") }
            })
    default:
        fail("unknown workload '\(name)'; use health or echo")
    }
}

/// Round trips with the blocking C client on one connection.
func blockingRoundTrips(_ line: String, socket: String, count: Int64) {
    let outcome = line.withCString { bytes in cpp_run_clients(socket, bytes, strlen(bytes), 1, count, nil, nil, 0) }
    guard outcome.error == 0, outcome.completed == count else {
        fail("the blocking client failed after \(outcome.completed) round trips: \(String(cString: strerror(outcome.error)))")
    }
}

TaskExecutor.useEventLoops()  // as the services and rpc-bench run
let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "serve-echo":
    _ = cpp_exit_with_parent()
    guard arguments.count == 3, arguments[1] == "--home" else { fail("usage: rpc-count serve-echo --home <dir>") }
    let home = arguments[2]
    blocking {
        let options = try ServiceOptions.parse(["--home", home, "--log-level", "warning"])
        ServiceMain.bootstrapLogging(level: options.logLevel)
        try await ServiceMain.run(description: try EchoService.description(), options: options) { router in
            EchoService.register(&router)
        }
    }
case "serve-c":
    _ = cpp_exit_with_parent()
    guard arguments.count == 2 else { fail("usage: rpc-count serve-c <socket>") }
    _ = cpp_echo_server_run(arguments[1])
    fail("cannot serve on \(arguments[1]): \(String(cString: strerror(errno)))")
case "serve-nio":
    _ = cpp_exit_with_parent()
    guard arguments.count == 2 else { fail("usage: rpc-count serve-nio <socket>") }
    let socket = arguments[1]
    blocking { try await serveFloor(socket) }
case "client":
    _ = cpp_exit_with_parent()
    guard arguments.count >= 6, let warmUp = Int64(arguments[4]), let count = Int64(arguments[5]), warmUp >= 0, count > 0 else {
        fail("usage: rpc-count client <blocking|rpc-client|nio> <socket> <health|echo> <warm-up> <round trips> [token]")
    }
    let socket = arguments[2]
    let workload = countedCall(arguments[3], token: arguments.count > 6 ? arguments[6] : nil)
    switch arguments[1] {
    case "blocking":
        if warmUp > 0 { blockingRoundTrips(workload.line, socket: socket, count: warmUp) }
        handshake("ready")
        blockingRoundTrips(workload.line, socket: socket, count: count)
        handshake("done")
    case "nio":
        blocking { try await floorRoundTrips(workload.line, socket: socket, count: warmUp) }
        handshake("ready")
        blocking { try await floorRoundTrips(workload.line, socket: socket, count: count) }
        handshake("done")
    case "rpc-client":
        let client = RPCClient(path: socket, token: arguments.count > 6 ? arguments[6] : nil)
        blocking {
            for _ in 0..<warmUp { try await workload.call(client) }
        }
        handshake("ready")
        blocking {
            for _ in 0..<count { try await workload.call(client) }
        }
        handshake("done")
        exit(0)  // the connection closes with the process; nothing after the count needs the client
    default:
        fail("unknown client '\(arguments[1])'; use blocking, nio or rpc-client")
    }
default:
    fail("usage: rpc-count serve-echo --home <dir> | serve-c <socket> | serve-nio <socket> | client …")
}
