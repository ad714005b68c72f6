import NIOCore
import Synchronization

/// The gRPC health states a service reports.
public enum HealthStatus: String, Sendable, Codable {
    case serving = "SERVING"
    case notServing = "NOT_SERVING"
}

/// State shared by every connection of a server: health, watchers, calls in
/// flight (for draining) and open connections (to close them at the end).
final class ServerState: Sendable {
    private struct Inner {
        var status: HealthStatus = .notServing
        var draining = false
        var inFlight = 0
        var nextWatcher: UInt64 = 0
        var watchers: [UInt64: AsyncStream<HealthStatus>.Continuation] = [:]
        var channels: [ObjectIdentifier: any Channel] = [:]
        var calls: [String: Int] = [:]
    }

    private let inner = Mutex(Inner())

    var status: HealthStatus { inner.withLock { $0.status } }
    var isDraining: Bool { inner.withLock { $0.draining } }
    var inFlight: Int { inner.withLock { $0.inFlight } }

    func callStarted() { inner.withLock { $0.inFlight += 1 } }

    /// Counts a request for `method` (answered inline or started), for `rpc.stats`.
    func counted(_ method: String) { inner.withLock { $0.calls[method, default: 0] += 1 } }

    /// Requests so far, by method.
    var calls: [String: Int] { inner.withLock { $0.calls } }

    func callEnded() {
        inner.withLock {
            assert($0.inFlight > 0, "a call ended that never started")
            $0.inFlight -= 1
        }
    }

    func set(_ status: HealthStatus, draining: Bool = false) {
        let watchers = inner.withLock { state -> [AsyncStream<HealthStatus>.Continuation] in
            state.draining = state.draining || draining
            guard state.status != status else { return [] }
            state.status = status
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.yield(status) }
    }

    /// A stream of health changes, starting with the current status.
    func watch() -> AsyncStream<HealthStatus> {
        let (stream, continuation) = AsyncStream<HealthStatus>.makeStream(bufferingPolicy: .bufferingNewest(8))
        let key = inner.withLock { state -> UInt64 in
            let key = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[key] = continuation
            continuation.yield(state.status)
            return key
        }
        continuation.onTermination = { [weak self] _ in
            self?.inner.withLock { _ = $0.watchers.removeValue(forKey: key) }
        }
        return stream
    }

    func opened(_ channel: any Channel) {
        inner.withLock { $0.channels[ObjectIdentifier(channel)] = channel }
    }

    func closed(_ channel: any Channel) {
        inner.withLock { _ = $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var openChannels: [any Channel] { inner.withLock { Array($0.channels.values) } }
}
