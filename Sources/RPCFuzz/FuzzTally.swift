/// What happened to one service's traffic, or to part of it.
public struct FuzzTally: Sendable {
    /// Lines written (each batch, oversize line and slow line counts once).
    public var linesSent = 0
    /// Bytes written.
    public var bytesSent = 0
    /// Lines sent, by how they were made.
    public var linesByKind: [String: Int] = [:]
    /// Response lines received (a batch's array counts once).
    public var responses = 0
    /// Responses (and batch elements) that carried a result.
    public var results = 0
    /// Error responses (and batch elements) by `error.data.status`.
    public var errorsByStatus: [String: Int] = [:]
    /// `<service>.event` notifications received.
    public var events = 0
    /// Connections opened.
    public var connections = 0
    /// Everything that broke a rule; empty in a passing run.
    public var violations: [String] = []

    public init() {}

    /// Total error responses.
    public var errors: Int { errorsByStatus.values.reduce(0, +) }

    /// Adds another tally to this one.
    mutating func merge(_ other: FuzzTally) {
        linesSent += other.linesSent
        bytesSent += other.bytesSent
        linesByKind.merge(other.linesByKind, uniquingKeysWith: +)
        responses += other.responses
        results += other.results
        errorsByStatus.merge(other.errorsByStatus, uniquingKeysWith: +)
        events += other.events
        connections += other.connections
        violations += other.violations
    }

    /// At most this many violations are kept (the rest are counted): a broken
    /// service must not turn the report into megabytes.
    static let keptViolations = 50
    /// Violations beyond those kept.
    public var droppedViolations = 0

    mutating func violation(_ text: String) {
        if violations.count < Self.keptViolations { violations.append(text) } else { droppedViolations += 1 }
    }
}
