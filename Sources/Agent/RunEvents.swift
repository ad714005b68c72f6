import RPC
import Synchronization

/// The events of one call working on a run (a chat, a resume, a sweep): recorded as
/// they happen, made durable with the run's next write (its save, or
/// `state.append_events` before a model call), and only then sent to the caller,
/// each with the `seq` state-svc gave it. So what a caller streams is exactly what
/// anyone following the run later reads (`agent.watch_run`), under the same numbers.
final class RunEvents: Sendable {
    /// Where persisted events go: the caller's stream (nothing for background work).
    private let live: AgentEmitter
    private let buffered = Mutex<[JSONValue]>([])

    /// - Parameter live: the caller's stream.
    init(live: @escaping AgentEmitter) {
        self.live = live
    }

    /// Records an event (`{type, run_id, ...}`) for the run's next write.
    func record(_ event: JSONValue) {
        buffered.withLock { $0.append(event) }
    }

    /// An emitter that records: for the code that reports as it works.
    var recorder: AgentEmitter { { [self] event in record(event) } }

    /// The events recorded since the last write, to send with the next one.
    var pending: [JSONValue] { buffered.withLock { $0 } }

    /// The first `count` recorded events were written, the last of them as `lastSeq`:
    /// they are numbered and sent to the caller, and forgotten here.
    func written(_ count: Int, lastSeq: Int64) {
        let events = buffered.withLock { buffered -> [JSONValue] in
            let done = Array(buffered.prefix(count))
            buffered.removeFirst(min(count, buffered.count))
            return done
        }
        for (index, event) in events.enumerated() {
            guard case .object(var fields) = event else { continue }
            fields["seq"] = .int(lastSeq - Int64(events.count - 1 - index))
            live(.object(fields))
        }
    }
}
