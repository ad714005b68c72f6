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
    /// The gateway's own identity (role `gateway`): it asks the agent on behalf of the
    /// signed-in person, reads balances, and previews and redeems approve/reject links
    /// (approval-svc records every link as the approver `link`). Nothing that opens
    /// accounts, moves money, resumes runs or decides as a person accepts it; it never
    /// sees a grant.
    public var identity = "gateway"

    /// The largest request body read. Chat messages are at most 16,000 bytes; decisions are small.
    public var maximumBodyBytes = 64 * 1024
    /// Server-Sent Event streams open at once; a new one beyond this gets 503 TOO_MANY_STREAMS.
    public var maximumStreams = 64
    /// The longest a stream stays open: an agent call is bounded by 600 s, so is its stream.
    public var maximumStreamDuration: Duration = .seconds(600)
    /// HTTP connections open at once (keeps a flood from exhausting descriptors).
    public var maximumConnections = 512
    /// A connection with no request in progress is closed after this long, and so is one
    /// whose request head has not all arrived (the header timeout): otherwise idle or
    /// half-sent connections could take all ``maximumConnections``.
    public var idleTimeout: Duration = .seconds(30)
    /// A request body must arrive within this long (the largest is 64 KiB): a body sent a
    /// byte at a time is answered 408 and its connection closed.
    public var bodyTimeout: Duration = .seconds(15)
    /// How long a sign-in lasts without use.
    public var sessionIdleTimeout: Duration = .seconds(12 * 3600)
    /// Sessions kept at once; the least recently used goes first.
    public var maximumSessions = 1_000

    /// - Parameter directory: the stack's home.
    public init(directory: RunDirectory) {
        self.directory = directory
    }

    /// Whether `host` is a loopback address: an IPv4 address in 127.0.0.0/8 or
    /// the IPv6 address ::1. Names (even `localhost`) are not: what a name
    /// resolves to is up to the resolver, so they need `--allow-remote`.
    public var isLoopback: Bool {
        Self.isLoopbackAddress(host)
    }

    /// Whether `text` is literally a loopback IP address (see ``isLoopback``).
    /// - Parameter text: an address as given to `--host`.
    public static func isLoopbackAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        return bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1
    }
}
