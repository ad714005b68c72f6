import Foundation

/// The server side of a measured series.
enum ServerKind: String, Codable, Sendable, CaseIterable {
    /// The RPC core, serving EchoService in its own process.
    case rpc
    /// The C line ping-pong (CPingPong), in its own process.
    case c
    /// The Python stdlib `json` line server, in its own process.
    case python
    /// SwiftNIO echoing lines with no JSON (`rpc-bench serve-nio`): the floor under the RPC core.
    case nioFloor = "nio-floor"

    var label: String {
        switch self {
        case .rpc: "RPC core"
        case .c: "C ping-pong"
        case .python: "Python json"
        case .nioFloor: "NIO floor"
        }
    }

    /// Echo servers answer with the request line itself, not a JSON-RPC response.
    var answersWithRequest: Bool { self == .c || self == .nioFloor }
}

/// The client side of a measured series.
enum ClientKind: String, Codable, Sendable {
    /// `RPCClient`, the async client of the RPC core.
    case rpcClient = "rpc-client"
    /// The blocking C client: write a line, read a line, on a raw socket.
    case blocking
    /// One `RPCClient` shared by all the callers (`connections` counts callers).
    case sharedRPCClient = "shared-rpc-client"
    /// The C client keeping `connections` requests in flight on one connection.
    case pipelined

    var label: String {
        switch self {
        case .rpcClient: "RPCClient"
        case .blocking: "blocking"
        case .sharedRPCClient: "one RPCClient"
        case .pipelined: "C pipelined"
        }
    }
}

/// One measured series: many round trips of one method, one server, one client,
/// on one or more connections.
struct Series: Codable, Sendable {
    let method: String
    let server: ServerKind
    let client: ClientKind
    let connections: Int
    /// Round trips measured (warm-up excluded).
    let requests: Int
    let p50Microseconds: Double
    let p99Microseconds: Double
    let meanMicroseconds: Double
    /// All round trips over the wall time of the measured part.
    let requestsPerSecond: Double
    /// CPU time of the server process per round trip: what a request costs the
    /// server, which other load on the machine disturbs far less than latency.
    let serverCPUMicroseconds: Double
    /// CPU time of the client (this process) per round trip.
    let clientCPUMicroseconds: Double

    /// Summarizes round-trip times measured over `elapsedNanoseconds` of wall time.
    /// - Parameters:
    ///   - latencies: one value per round trip, in nanoseconds (reordered here).
    ///   - elapsedNanoseconds: the wall time of the whole measured part.
    ///   - cpu: the CPU time server and client used in the measured part.
    init(
        method: String, server: ServerKind, client: ClientKind, connections: Int,
        latencies: [Int64], elapsedNanoseconds: Int64, cpu: (server: Int64, client: Int64)
    ) {
        precondition(!latencies.isEmpty, "a series needs at least one round trip")
        precondition(elapsedNanoseconds > 0, "a series takes time")
        let sorted = latencies.sorted()
        self.method = method
        self.server = server
        self.client = client
        self.connections = connections
        requests = sorted.count
        p50Microseconds = Double(Self.percentile(sorted, 0.50)) / 1000
        p99Microseconds = Double(Self.percentile(sorted, 0.99)) / 1000
        meanMicroseconds = Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
        requestsPerSecond = Double(sorted.count) / (Double(elapsedNanoseconds) / 1e9)
        serverCPUMicroseconds = Double(cpu.server) / Double(sorted.count) / 1000
        clientCPUMicroseconds = Double(cpu.client) / Double(sorted.count) / 1000
    }

    /// Nearest-rank percentile of sorted values.
    private static func percentile(_ sorted: [Int64], _ fraction: Double) -> Int64 {
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}

/// Nanoseconds on the monotonic clock, the clock the C client uses too.
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// CPU time used by a server process and by this process since the meter started.
struct CPUMeter {
    private let server: ChildServer
    private let serverStart: Int64
    private let clientStart: Int64

    init(server: ChildServer) {
        self.server = server
        serverStart = server.cpuNanoseconds
        clientStart = Self.ownCPUNanoseconds()
    }

    /// CPU nanoseconds used since `init`, by the server and by this process.
    func read() -> (server: Int64, client: Int64) {
        (server.cpuNanoseconds - serverStart, Self.ownCPUNanoseconds() - clientStart)
    }

    private static func ownCPUNanoseconds() -> Int64 {
        var used = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used)
        return Int64(used.tv_sec) * 1_000_000_000 + Int64(used.tv_nsec)
    }
}
