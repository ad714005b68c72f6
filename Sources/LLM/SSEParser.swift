/// One Server-Sent Event.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field; nil when absent (the default type, "message").
    public var event: String?
    /// The `data:` lines joined with `\n`.
    public var data: String
    /// The `id:` field, if any.
    public var id: String?

    /// - Parameters:
    ///   - event: the event type.
    ///   - data: the payload.
    ///   - id: the event id.
    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// An incremental parser for `text/event-stream` (the WHATWG HTML
/// "server-sent events" interpretation rules): feed it bytes as they arrive,
/// in any chunking, and take out complete events.
///
/// Lines end with `\n`, `\r\n` or `\r`; a blank line dispatches the event;
/// lines starting with `:` are comments; `data:` lines accumulate; a field
/// without a colon has an empty value; one leading space after the colon is
/// dropped. Events with no data are not dispatched.
public struct SSEParser: Sendable {
    /// The longest line accepted: a provider sending more is broken, and memory stays bounded.
    public static let maximumLineBytes = 4 << 20

    private var line: [UInt8] = []
    private var lastWasCR = false
    private var event: String?
    private var data: [String] = []
    private var id: String?
    private var sawData = false

    public init() {}

    /// Feeds bytes and returns the events they complete.
    /// - Parameter bytes: the next chunk of the stream.
    /// - Throws: ``SSEParserError`` when a line exceeds the limit.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [SSEEvent] {
        var events: [SSEEvent] = []
        for byte in bytes {
            if lastWasCR {
                lastWasCR = false
                if byte == UInt8(ascii: "\n") { continue }  // the \n of a \r\n
            }
            switch byte {
            case UInt8(ascii: "\r"):
                lastWasCR = true
                if let event = endLine() { events.append(event) }
            case UInt8(ascii: "\n"):
                if let event = endLine() { events.append(event) }
            default:
                guard line.count < Self.maximumLineBytes else { throw SSEParserError.lineTooLong }
                line.append(byte)
            }
        }
        return events
    }

    /// Ends the stream: a final event without its blank line is dispatched,
    /// as most clients do.
    public mutating func finish() -> SSEEvent? {
        if !line.isEmpty { _ = endLine() }
        return dispatch()
    }

    private mutating func endLine() -> SSEEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring
        var value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = Substring(text)
            value = ""
        }
        switch field {
        case "event": event = String(value)
        case "data":
            data.append(String(value))
            sawData = true
        case "id" where !value.contains("\0"): id = String(value)
        default: break  // retry and unknown fields are ignored
        }
        return nil
    }

    private mutating func dispatch() -> SSEEvent? {
        defer {
            event = nil
            data.removeAll()
            sawData = false
        }
        guard sawData else { return nil }
        return SSEEvent(event: event, data: data.joined(separator: "\n"), id: id)
    }
}

/// The stream broke the parser's limits.
public enum SSEParserError: Error, Equatable {
    /// A line exceeded ``SSEParser/maximumLineBytes``.
    case lineTooLong
}
