import Synchronization

/// Wakes watching streams (`approval.watch`, `state.watch_events`) when new events
/// are committed. A wake-up carries no data: watchers read the events from the
/// database from their own cursor, so a missed or merged wake-up never loses an event.
public final class ChangeNotifier: Sendable {
    /// Watchers at once: each holds a connection and a task; past this, refuse.
    public static let maximumWatchers = 1_000

    public init() {}

    private let watchers = Mutex<(next: UInt64, continuations: [UInt64: AsyncStream<Void>.Continuation])>((0, [:]))

    /// Registers a watcher. Call before reading, so no commit is missed between.
    /// - Returns: the id to unsubscribe with and the wake-up stream; nil when full.
    public func subscribe() -> (id: UInt64, stream: AsyncStream<Void>)? {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        return watchers.withLock { state in
            guard state.continuations.count < Self.maximumWatchers else { return nil }
            state.next += 1
            state.continuations[state.next] = continuation
            return (state.next, stream)
        }
    }

    /// Removes a watcher.
    public func unsubscribe(_ id: UInt64) {
        let continuation = watchers.withLock { $0.continuations.removeValue(forKey: id) }
        continuation?.finish()
    }

    /// Wakes every watcher: new events were committed.
    public func signal() {
        let all = watchers.withLock { Array($0.continuations.values) }
        for continuation in all { continuation.yield() }
    }
}
