import Logging

/// One line per event on standard error, exactly as swift-log's `StreamLogHandler`
/// writes it, with one difference: metadata set on a logger is kept as it is and
/// rendered only when an event is written. `StreamLogHandler` renders all of its
/// metadata again on every change, and every call the RPC core serves sets the
/// call's trace id, method and id on its logger: that rendering was 7.6k
/// instructions of a 100k-instruction `health.check` (callgrind), for lines that,
/// at the default level, are almost never written.
public struct LineLogHandler: LogHandler {
    private var stream: StreamLogHandler
    public var metadata: Logger.Metadata = [:]

    /// - Parameter label: the logger's label (the service's name).
    public init(label: String) {
        stream = StreamLogHandler.standardError(label: label)
    }

    public var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard !metadata.isEmpty else { return stream.log(event: event) }
        var event = event
        // What the event names itself wins over what the logger carries, as in StreamLogHandler.
        event.metadata = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
        stream.log(event: event)
    }
}
