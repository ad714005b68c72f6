import ArgumentParser
import CPingPong
import EchoService
import Foundation
import RPCTesting
import ServiceKit

/// `rpc-bench serve-echo`: the RPC server the benchmark starts when echo-svc is
/// missing or stale. The same code as echo-svc: EchoService on ServiceKit.
struct ServeEcho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-echo",
        abstract: "Serves EchoService exactly as echo-svc does (started by rpc-bench itself).",
        shouldDisplay: false)

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        _ = cpp_exit_with_parent()
        ServiceMain.bootstrapLogging(level: options.logLevel)
        try await ServiceMain.run(description: try EchoService.description(), options: options) { router in
            EchoService.register(&router)
        }
    }
}

/// `rpc-bench serve-c --socket <path>`: the C ping-pong server (started by rpc-bench itself).
struct ServeC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-c",
        abstract: "Serves the C line ping-pong on a Unix socket (started by rpc-bench itself).",
        shouldDisplay: false)

    @Option(help: ArgumentHelp("The socket to listen on.", valueName: "path"))
    var socket: String

    func run() throws {
        guard cpp_exit_with_parent() == 0 else { throw ExitCode.failure }
        _ = cpp_echo_server_run(socket)
        throw BenchError("cannot serve on \(socket): \(String(cString: strerror(errno)))")
    }
}

/// `rpc-bench serve-nio --socket <path>`: SwiftNIO echoing lines with no JSON, the
/// floor under the RPC core (started by rpc-bench itself).
struct ServeNIO: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-nio",
        abstract: "Serves SwiftNIO's line echo, no JSON, on a Unix socket (started by rpc-bench itself).",
        shouldDisplay: false)

    @Option(help: ArgumentHelp("The socket to listen on.", valueName: "path"))
    var socket: String

    func run() async throws {
        guard cpp_exit_with_parent() == 0 else { throw ExitCode.failure }
        try await serveFloor(socket)
    }
}
