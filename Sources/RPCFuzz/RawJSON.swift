import Foundation
import RPC

/// Just enough of a JSON scanner to read a member's exact text (an id such as
/// 18446744073709551615 must be compared digit for digit, which a parse into
/// Int64 or Double cannot do) and to split a top-level array.
enum RawJSON {
    /// The raw text of the top-level member `key` of an object, nil when absent
    /// or when the text is not an object.
    static func member(_ key: String, in bytes: [UInt8]) -> ArraySlice<UInt8>? {
        let wanted = Array("\"\(key)\"".utf8)
        var index = 0
        skipSpace(bytes, &index)
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        while true {
            skipSpace(bytes, &index)
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let keyStart = index
            guard skipString(bytes, &index) else { return nil }
            let keyText = bytes[keyStart..<index]
            skipSpace(bytes, &index)
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            skipSpace(bytes, &index)
            let valueStart = index
            guard skipValue(bytes, &index) else { return nil }
            if keyText.elementsEqual(wanted) { return bytes[valueStart..<index] }
            skipSpace(bytes, &index)
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
    }

    /// The raw text of each element of a top-level array; nil when not an array.
    static func elements(of bytes: [UInt8]) -> [[UInt8]]? {
        var index = 0
        skipSpace(bytes, &index)
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return nil }
        index += 1
        var found: [[UInt8]] = []
        skipSpace(bytes, &index)
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { return found }
        while true {
            skipSpace(bytes, &index)
            let start = index
            guard skipValue(bytes, &index) else { return nil }
            found.append(Array(bytes[start..<index]))
            skipSpace(bytes, &index)
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "]") { return found }
            guard bytes[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
    }

    private static func skipSpace(_ bytes: [UInt8], _ index: inout Int) {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private static func skipString(_ bytes: [UInt8], _ index: inout Int) -> Bool {
        index += 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): index += 1; return true
            default: index += 1
            }
        }
        return false
    }

    /// Skips one value; containers are skipped by counting brackets outside strings
    /// (no recursion, so deep nesting costs nothing).
    private static func skipValue(_ bytes: [UInt8], _ index: inout Int) -> Bool {
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return skipString(bytes, &index)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard skipString(bytes, &index) else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { index += 1; return true }
                default: break
                }
                index += 1
            }
            return false
        default:
            let start = index
            while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                index += 1
            }
            return index > start
        }
    }
}

/// A request id as the fuzzer compares it: the decoded string, or an integer's exact digits.
enum IDKey: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case integer(String)

    var description: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .integer(let digits): digits
        }
    }

    /// What an `id` member's raw text means for the answer.
    enum Reading: Equatable {
        /// Echoed exactly: a string or an integer that fits 64 bits, written canonically.
        case exact(IDKey)
        /// `null`: answered with id null.
        case null
        /// A number the server may re-encode (fraction, exponent, huge, -0): some answer, id unknown.
        case inexact
        /// Not a valid id (boolean, object, array): answered as an invalid request, id null.
        case invalid
    }

    static func read(_ raw: ArraySlice<UInt8>) -> Reading {
        guard let first = raw.first else { return .invalid }
        let text = String(decoding: raw, as: UTF8.self)
        if first == UInt8(ascii: "\"") {
            guard let value = try? JSONDecoder().decode(String.self, from: Data(raw)) else { return .invalid }
            return .exact(.string(value))
        }
        if text == "null" { return .null }
        if first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) {
            if let value = Int64(text), String(value) == text, text != "-0" { return .exact(.integer(text)) }
            if let value = UInt64(text), String(value) == text { return .exact(.integer(text)) }
            return .inexact
        }
        return .invalid
    }
}
