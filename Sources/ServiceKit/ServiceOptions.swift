import ArgumentParser
import Foundation
import Logging
import RPC

/// Options every service executable takes.
public struct ServiceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The stack's home folder (default: $HITL_HOME, else .hitl).", valueName: "dir"))
    public var home: String?

    @Option(help: ArgumentHelp("The socket to listen on (default: <home>/run/<service>.sock).", valueName: "path"))
    public var socket: String?

    @Option(help: ArgumentHelp(
        "Also listen on TCP, e.g. tcp://0.0.0.0:9001 (past one machine): mutual TLS with <home>/run/tls/<service>.pem and .key, clients' certificates from run/tls/ca.pem (`hitl init --tls-host` makes them).",
        valueName: "address"))
    public var listen: String?

    @Flag(help: "Accept plaintext TCP: tokens then cross the network readable by anyone on it. Only for a network you trust entirely.")
    public var allowPlaintextTcp = false

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    public var logLevel: Logger.Level = .info

    @Option(help: ArgumentHelp("The longest request line accepted, in bytes.", valueName: "bytes"))
    public var maxLineBytes: Int = RPCLimits.defaultMaximumLineBytes

    @Option(help: ArgumentHelp("How long shutdown waits for calls in flight, in milliseconds.", valueName: "ms"))
    public var drainTimeoutMs: Int64 = 10_000

    public init() {}

    public mutating func validate() throws {
        guard maxLineBytes >= 1024, maxLineBytes <= 64 << 20 else {
            throw ValidationError("--max-line-bytes must be between 1024 and 67108864")
        }
        guard drainTimeoutMs >= 0, drainTimeoutMs <= 300_000 else {
            throw ValidationError("--drain-timeout-ms must be between 0 and 300000")
        }
        if let listen {
            do {
                guard case .tcp = try RPCEndpoint(parsing: listen) else {
                    throw ValidationError("--listen takes a TCP address (tcp://host:port); the Unix socket is --socket")
                }
            } catch let error as RPCEndpointError {
                throw ValidationError("--listen: \(error.description)")
            }
        }
    }

    /// The TCP listener `--listen` asks for, with this service's certificate (none with
    /// `--allow-plaintext-tcp` and no certificate on disk).
    /// - Throws: ``RPCTLSError`` naming the file that is missing or unreadable.
    public func tcpListener(for service: String) throws -> TCPListener? {
        guard let listen, case .tcp(let host, let port) = try? RPCEndpoint(parsing: listen) else { return nil }
        let files = RPCTLS.files(for: service, in: directory)
        let present = [files.certificate, files.key, files.ca].allSatisfy { FileManager.default.fileExists(atPath: $0) }
        if !present && allowPlaintextTcp { return TCPListener(host: host, port: port, tls: nil, allowPlaintext: true) }
        guard present else {
            throw RPCTLSError(
                "--listen \(listen) needs \(files.certificate), \(files.key) and \(files.ca): run `hitl init --tls-host <this host>` "
                    + "(or pass --allow-plaintext-tcp to accept tokens in the clear)")
        }
        return TCPListener(
            host: host, port: port, tls: try RPCTLS.server(certificate: files.certificate, key: files.key, ca: files.ca),
            allowPlaintext: allowPlaintextTcp)
    }

    /// The run directory these options point at.
    public var directory: RunDirectory { RunDirectory.resolve(home) }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
