import Synchronization

/// What a service process has done since it started, counted where it happens:
/// requests served (by method, in ``ServerState``) and durable writes (here, by
/// SQLiteKit's group commit). `rpc.stats` answers with both, so a benchmark can print
/// exchanges and durable writes per approval cycle by counting, not estimating.
public enum ServiceStatistics {
    private struct Writes {
        var requests = 0
        var commits = 0
    }

    private static let writes = Mutex(Writes())

    /// Counts one group commit of `requests` write requests that became durable.
    /// - Parameter requests: the requests in the commit (each its own savepoint).
    public static func committed(requests: Int) {
        writes.withLock {
            $0.requests += requests
            $0.commits += 1
        }
    }

    /// Write requests made durable, and the commits (fsyncs) that carried them.
    public static var durableWrites: (requests: Int, commits: Int) {
        writes.withLock { ($0.requests, $0.commits) }
    }
}

/// `rpc.stats` result.
public struct ServiceStats: Codable, Sendable, Equatable {
    /// Requests this server has answered or started, by method (notifications included).
    public let calls: [String: Int]
    /// Write requests this process made durable (each in its own savepoint of a group commit).
    public let durableWrites: Int
    /// Commits (one fsync each) that carried them.
    public let commits: Int

    public init(calls: [String: Int], durableWrites: Int, commits: Int) {
        self.calls = calls
        self.durableWrites = durableWrites
        self.commits = commits
    }

    enum CodingKeys: String, CodingKey {
        case calls
        case durableWrites = "durable_writes"
        case commits
    }
}
