import Foundation
import RPC

/// How the gateway listens, whom it talks to, and every limit it enforces.
public struct GatewayConfiguration: Sendable {
    /// The stack's home: sockets and tokens of the services it calls.
    public var directory: RunDirectory
    /// The address to listen on. Loopback unless the operator says otherwise.
    public var host = "127.0.0.1"
    /// The TCP port (0: any free port).
    public var port = 8765
    /// The user's own account, whose balance the page shows (the agent's `--account`).
    public var account = "checking"
    /// The identity that redeems approve/reject links (approval-svc records every link as the approver `link`).
    public var linkIdentity = "operator"

    /// The largest request body read. Chat messages are at most 16,000 bytes; decisions are small.
    public var maximumBodyBytes = 64 * 1024
    /// Server-Sent Event streams open at once; a new one beyond this gets 503 TOO_MANY_STREAMS.
    public var maximumStreams = 64
    /// The longest a stream stays open: an agent call is bounded by 600 s, so is its stream.
    public var maximumStreamDuration: Duration = .seconds(600)
    /// HTTP connections open at once (keeps a flood from exhausting descriptors).
    public var maximumConnections = 512
    /// How long a sign-in lasts without use.
    public var sessionIdleTimeout: Duration = .seconds(12 * 3600)
    /// Sessions kept at once; the least recently used goes first.
    public var maximumSessions = 1_000
    /// Runs whose events are kept for `Last-Event-ID` resumption; the least recently used goes first.
    public var maximumJournalRuns = 1_000
    /// Events kept per run (a run has a handful; the agent caps model turns).
    public var maximumEventsPerRun = 512

    /// - Parameter directory: the stack's home.
    public init(directory: RunDirectory) {
        self.directory = directory
    }

    /// Whether `host` is a loopback address.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
