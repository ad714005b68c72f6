import Foundation

/// Where the service reads the time: the system clock, or a fixed offset from it
/// (tests move time forward to expire approvals without waiting).
public struct ApprovalClock: Sendable {
    private let offset: TimeInterval

    /// - Parameter offset: seconds added to the system clock (0 in production).
    public init(offset: TimeInterval = 0) { self.offset = offset }

    /// The system clock.
    public static let system = ApprovalClock()

    /// The current time.
    public func now() -> Date { Date().addingTimeInterval(offset) }
}

/// Times in the database (milliseconds since 1970) and on the wire (RFC 3339 UTC, milliseconds).
enum ApprovalTime {
    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    static func date(milliseconds: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000) }

    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    static func format(milliseconds: Int64) -> String { format(date(milliseconds: milliseconds)) }
}
