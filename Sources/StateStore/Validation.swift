import Foundation
import RPC

/// Checks of what callers send, each failing with INVALID_ARGUMENT and the field named.
enum Validation {
    /// Run ids, session ids and cursor names: URL-safe, 1…128 characters
    /// (`A-Z a-z 0-9 - _ .`; not starting with `.`).
    /// - Parameters:
    ///   - value: the identifier.
    ///   - field: where it came from.
    /// - Throws: INVALID_ARGUMENT/INVALID_ID.
    static func identifier(_ value: String, field: String) throws {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= StateLimits.maximumIdentifierLength, bytes.first != UInt8(ascii: "."),
            bytes.allSatisfy(isURLSafe)
        else {
            throw RPCError.invalidParams(
                field: field,
                "must be 1 to \(StateLimits.maximumIdentifierLength) characters of A-Z a-z 0-9 - _ . (not starting with .)",
                reason: "INVALID_ID")
        }
    }

    /// A lease owner: 1…128 printable characters, no control characters.
    /// - Throws: INVALID_ARGUMENT/INVALID_OWNER.
    static func owner(_ value: String, field: String = "owner") throws {
        guard !value.isEmpty, value.count <= StateLimits.maximumIdentifierLength,
            !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw RPCError.invalidParams(
                field: field, "must be 1 to \(StateLimits.maximumIdentifierLength) printable characters",
                reason: "INVALID_OWNER")
        }
    }

    /// A run document: a JSON object whose `schema_version` is a positive integer,
    /// at most ``StateLimits/maximumDocumentBytes`` as compact JSON.
    /// - Parameters:
    ///   - data: the document.
    ///   - field: where it came from.
    /// - Returns: the document's compact JSON text, as stored.
    /// - Throws: INVALID_ARGUMENT/INVALID_DOCUMENT, RESOURCE_EXHAUSTED/DOCUMENT_TOO_LARGE.
    static func document(_ data: JSONValue, field: String = "data") throws -> String {
        guard case .object(let members) = data else {
            throw RPCError.invalidParams(field: field, "must be a JSON object with a schema_version", reason: "INVALID_DOCUMENT")
        }
        guard case .int(let version)? = members["schema_version"], version >= 1 else {
            throw RPCError.invalidParams(
                field: "\(field).schema_version", "is required and must be a positive integer", reason: "INVALID_DOCUMENT")
        }
        let text = try encode(data)
        guard text.utf8.count <= StateLimits.maximumDocumentBytes else {
            throw RPCError(
                .resourceExhausted, reason: "DOCUMENT_TOO_LARGE",
                "\(field) is \(text.utf8.count) bytes; at most \(StateLimits.maximumDocumentBytes) bytes are stored",
                details: ["field": .string(field), "limit": .int(Int64(StateLimits.maximumDocumentBytes))])
        }
        return text
    }

    /// Events to append: each a JSON object with a string `type` (its `seq` and `at`
    /// are the store's to set), at most ``StateLimits/maximumEventBytes`` each and
    /// ``StateLimits/maximumEventsPerAppend`` at once.
    /// - Throws: INVALID_ARGUMENT/INVALID_EVENT naming the element, RESOURCE_EXHAUSTED/EVENT_TOO_LARGE.
    static func events(_ events: [JSONValue], field: String = "events") throws -> [(object: [String: JSONValue], bytes: Int)] {
        guard events.count <= StateLimits.maximumEventsPerAppend else {
            throw RPCError.invalidParams(field: field, "must hold at most \(StateLimits.maximumEventsPerAppend) events", reason: "TOO_MANY_EVENTS")
        }
        return try events.enumerated().map { index, event in
            guard case .object(var object) = event, case .string(let type)? = object["type"], !type.isEmpty, type.utf8.count <= 64 else {
                throw RPCError.invalidParams(
                    field: "\(field)[\(index)]", "must be a JSON object with a type (1 to 64 characters)", reason: "INVALID_EVENT")
            }
            object["seq"] = nil
            object["at"] = nil
            let bytes = try encode(.object(object)).utf8.count
            guard bytes <= StateLimits.maximumEventBytes else {
                throw RPCError(
                    .resourceExhausted, reason: "EVENT_TOO_LARGE",
                    "\(field)[\(index)] is \(bytes) bytes; an event holds at most \(StateLimits.maximumEventBytes)",
                    details: ["field": .string("\(field)[\(index)]"), "limit": .int(Int64(StateLimits.maximumEventBytes))])
            }
            return (object, bytes)
        }
    }

    /// Compact JSON text of a value.
    static func encode(_ value: JSONValue) throws -> String {
        if let text = value.compactJSON() { return String(decoding: text, as: UTF8.self) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A value stored as JSON text, parsed back.
    static func decode(_ text: String) throws -> JSONValue {
        try JSONValue(parsing: text)
    }

    /// A run version as sent by a caller: 1 or more.
    /// - Throws: INVALID_ARGUMENT/INVALID_FIELD.
    static func version(_ value: Int64, field: String) throws {
        guard value >= 1 else { throw RPCError.invalidParams(field: field, "must be 1 or more (versions start at 1)") }
    }

    /// An optional page size, defaulted and bounded.
    /// - Throws: INVALID_ARGUMENT/INVALID_FIELD when outside 1…maximum.
    static func limit(_ value: Int?, default defaultValue: Int, maximum: Int, field: String = "limit") throws -> Int {
        guard let value else { return defaultValue }
        guard (1...maximum).contains(value) else {
            throw RPCError.invalidParams(field: field, "must be between 1 and \(maximum)")
        }
        return value
    }

    private static func isURLSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            true
        default:
            false
        }
    }
}

/// Milliseconds since 1970 and their RFC 3339 form (UTC, millisecond precision).
public enum Timestamp {
    /// Now, in milliseconds since 1970.
    public static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    /// `2026-11-25T02:01:20.123Z`.
    public static func format(_ ms: Int64) -> String {
        var seconds = time_t(ms.dividedRoundingDown(by: 1000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(ms - Int64(seconds) * 1000)
        // Digits written directly: `String(format:)` went through Foundation's locale
        // machinery and was 15% of state-svc's instructions in an approval cycle (callgrind).
        var text: [UInt8] = []
        text.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        text.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        text.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        text.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        text.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        text.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        text.append(UInt8(ascii: "."))
        digits(millis, 3)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }

    /// Parses RFC 3339 with or without fractional seconds.
    /// - Throws: INVALID_ARGUMENT/INVALID_TIMESTAMP.
    static func parse(_ text: String, field: String) throws -> Int64 {
        let date =
            (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
        guard let date else {
            throw RPCError.invalidParams(
                field: field, "must be an RFC 3339 UTC timestamp such as 2026-01-31T12:00:00Z", reason: "INVALID_TIMESTAMP")
        }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}

extension Int64 {
    fileprivate func dividedRoundingDown(by divisor: Int64) -> Int64 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? quotient - 1 : quotient
    }
}

/// Run ids made here: `run_` and 22 base64url characters of 128 random bits.
enum RunID {
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let encoded = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "run_" + encoded
    }
}
