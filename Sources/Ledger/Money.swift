import Banking
import Foundation

/// Signed cents on the wire and in time stamps: the ledger's own formatting helpers.
enum Money {
    /// `-150.00`, `0.00`, `1000.05`: signed, two fraction digits.
    static func format(_ cents: Int64) -> String {
        let magnitude = cents.magnitude
        let fraction = magnitude % 100
        return "\(cents < 0 ? "-" : "")\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// Ledger times: stored as Unix milliseconds, written as RFC 3339 UTC.
enum LedgerTime {
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    static func format(milliseconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}
