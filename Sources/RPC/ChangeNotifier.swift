import Synchronization

/// Wakes watching streams (`approval.watch`, `state.watch_events`) when new events
/// are committed. A wake-up carries no data: watchers read the events from the
/// database from their own cursor, so a missed or merged wake-up never loses an event.
///
/// A watcher may name a topic (state-svc: the run it follows); a change to one topic
/// wakes only that topic's watchers and those that watch everything. Waking every
/// watcher on every commit cost state-svc one database read per watcher per commit:
/// with 64 runs in flight, 64 reads for each save, 63 of them for nothing.
public final class ChangeNotifier: Sendable {
    /// Watchers at once: each holds a connection and a task; past this, refuse.
    public static let maximumWatchers = 1_000

    public init() {}

    private struct Watchers {
        var next: UInt64 = 0
        var count = 0
        /// Watchers of everything.
        var all: [UInt64: AsyncStream<Void>.Continuation] = [:]
        /// Watchers of one topic, by topic.
        var byTopic: [String: [UInt64: AsyncStream<Void>.Continuation]] = [:]
        var topicOf: [UInt64: String] = [:]
    }

    private let watchers = Mutex(Watchers())

    /// Registers a watcher. Call before reading, so no commit is missed between.
    /// - Parameter topic: what it watches (nil: every change).
    /// - Returns: the id to unsubscribe with and the wake-up stream; nil when full.
    public func subscribe(topic: String? = nil) -> (id: UInt64, stream: AsyncStream<Void>)? {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        return watchers.withLock { state in
            guard state.count < Self.maximumWatchers else { return nil }
            state.next += 1
            state.count += 1
            if let topic {
                state.byTopic[topic, default: [:]][state.next] = continuation
                state.topicOf[state.next] = topic
            } else {
                state.all[state.next] = continuation
            }
            return (state.next, stream)
        }
    }

    /// Removes a watcher.
    public func unsubscribe(_ id: UInt64) {
        let continuation = watchers.withLock { state -> AsyncStream<Void>.Continuation? in
            if let topic = state.topicOf.removeValue(forKey: id) {
                let removed = state.byTopic[topic]?.removeValue(forKey: id)
                if state.byTopic[topic]?.isEmpty == true { state.byTopic[topic] = nil }
                if removed != nil { state.count -= 1 }
                return removed
            }
            let removed = state.all.removeValue(forKey: id)
            if removed != nil { state.count -= 1 }
            return removed
        }
        continuation?.finish()
    }

    /// Wakes every watcher: new events were committed.
    public func signal() {
        let woken = watchers.withLock { state in Array(state.all.values) + state.byTopic.values.flatMap(\.values) }
        for continuation in woken { continuation.yield() }
    }

    /// Wakes the watchers of `topic` and those of everything.
    /// - Parameter topic: what changed (state-svc: a run id).
    public func signal(topic: String) {
        let woken = watchers.withLock { state in Array(state.all.values) + Array((state.byTopic[topic] ?? [:]).values) }
        for continuation in woken { continuation.yield() }
    }
}
