import ArgumentParser
import Logging
import RPC

/// Options every service executable takes.
public struct ServiceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The stack's home folder (default: $HITL_HOME, else .hitl).", valueName: "dir"))
    public var home: String?

    @Option(help: ArgumentHelp("The socket to listen on (default: <home>/run/<service>.sock).", valueName: "path"))
    public var socket: String?

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
    }

    /// The run directory these options point at.
    public var directory: RunDirectory { RunDirectory.resolve(home) }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
