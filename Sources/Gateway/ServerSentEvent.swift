import Foundation
import HTTPTypes
import Hummingbird

/// One Server-Sent Event: `id:`, `event:` and one `data:` line of compact JSON.
public struct ServerSentEvent: Sendable, Equatable {
    /// The event's number within its run (`seq`: 1, 2, 3, ... as state-svc stored it),
    /// sent as `id:` and echoed by a reconnecting client in `Last-Event-ID`; nil for an
    /// event that is not one of the run's (a failed stream's last word).
    public let id: Int64?
    /// The event name: the agent event's type (`run_started`, `approval_required`, ...).
    public let name: String
    /// The event as compact JSON (it never contains a newline).
    public let data: String

    /// The event's bytes on the wire, ending with the blank line.
    var encoded: ByteBuffer {
        ByteBuffer(string: (id.map { "id: \($0)\n" } ?? "") + "event: \(name)\ndata: \(data)\n\n")
    }
}

/// What every event stream starts with: how long a browser waits before reconnecting.
let sseRetryPreamble = ByteBuffer(string: "retry: 3000\n\n")

/// Response headers of an event stream.
let sseHeaders: HTTPFields = [
    .contentType: "text/event-stream; charset=utf-8",
    .cacheControl: "no-store",
    HTTPField.Name("X-Accel-Buffering")!: "no",
]
