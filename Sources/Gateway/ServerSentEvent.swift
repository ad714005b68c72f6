import Foundation
import HTTPTypes
import Hummingbird

/// One Server-Sent Event: `id:`, `event:` and one `data:` line of compact JSON.
public struct ServerSentEvent: Sendable, Equatable {
    /// The event's id within its run (1, 2, 3, ...), sent as `id:` and echoed
    /// by a reconnecting client in `Last-Event-ID`.
    public let id: Int
    /// The event name: the agent event's type (`run_started`, `approval_required`, ...).
    public let name: String
    /// The event as compact JSON (it never contains a newline).
    public let data: String

    /// The event's bytes on the wire, ending with the blank line.
    var encoded: ByteBuffer {
        ByteBuffer(string: "id: \(id)\nevent: \(name)\ndata: \(data)\n\n")
    }

    /// Event names after which a run waits for someone or is over: a stream ends after them.
    static let pausing: Set<String> = ["approval_required", "run_completed", "error"]
}

/// What every event stream starts with: how long a browser waits before reconnecting.
let sseRetryPreamble = ByteBuffer(string: "retry: 3000\n\n")

/// Response headers of an event stream.
let sseHeaders: HTTPFields = [
    .contentType: "text/event-stream; charset=utf-8",
    .cacheControl: "no-store",
    HTTPField.Name("X-Accel-Buffering")!: "no",
]
