/// A validating JSON scanner over bytes that builds no values: it finds where
/// members start and end, so the RPC core can read the JSON-RPC envelope by
/// hand and hand only `params` to `Codable`.
///
/// It accepts exactly RFC 8259's grammar (the caller checks UTF-8), up to
/// ``maximumDepth`` levels. Anything it does not accept makes it return nil or
/// false, and the caller falls back to the full decoder, which then says what is
/// wrong; so being strict here never changes an answer, it only costs speed.
package struct JSONScanner {
    /// Nesting deeper than this is left to the full decoder.
    package static let maximumDepth = 64

    package let bytes: UnsafeRawBufferPointer
    package private(set) var index: Int

    package init(_ bytes: UnsafeRawBufferPointer, from index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    package var isAtEnd: Bool { index >= bytes.count }

    /// The next byte that is not whitespace (the cursor moves past the whitespace), or nil at the end.
    package var peekAfterWhitespace: UInt8? {
        mutating get {
            skipWhitespace()
            return index < bytes.count ? bytes[index] : nil
        }
    }

    package mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Consumes `byte` (after whitespace) if it is next.
    package mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// A string without escapes: the range of its content. Nil when the next
    /// value is not a string or has an escape (the caller falls back).
    package mutating func plainString() -> Range<Int>? {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var cursor = start
        while cursor < bytes.count {
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") {
                index = cursor + 1
                return start..<cursor
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            cursor += 1
        }
        return nil
    }

    /// An integer without fraction or exponent that fits in Int64.
    package mutating func integer() -> Int64? {
        skipWhitespace()
        let start = index
        var cursor = index
        var negative = false
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "-") {
            negative = true
            cursor += 1
        }
        let digitsStart = cursor
        var value: Int64 = 0
        while cursor < bytes.count, (0x30...0x39).contains(bytes[cursor]) {
            let digit = Int64(bytes[cursor] - 0x30)
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflowA, !overflowB else { return nil }
            value = sum
            cursor += 1
        }
        let digits = cursor - digitsStart
        guard digits > 0, digits == 1 || bytes[digitsStart] != 0x30 else { return nil }  // no leading zeros
        if cursor < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[cursor]) {
            index = start
            return nil
        }
        index = cursor
        return value
    }

    /// Skips one value of any type, checking its grammar; false when it is not JSON.
    package mutating func skipValue(depth: Int = 0) -> Bool {
        skipWhitespace()
        guard index < bytes.count, depth < Self.maximumDepth else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            if consume(UInt8(ascii: "}")) { return true }
            repeat {
                skipWhitespace()
                guard skipString(), consume(UInt8(ascii: ":")), skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            index += 1
            if consume(UInt8(ascii: "]")) { return true }
            repeat {
                guard skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]"))
        case UInt8(ascii: "\""):
            return skipString()
        case UInt8(ascii: "t"):
            return skipLiteral("true")
        case UInt8(ascii: "f"):
            return skipLiteral("false")
        case UInt8(ascii: "n"):
            return skipLiteral("null")
        default:
            return skipNumber()
        }
    }

    /// Skips a string at the cursor, checking its escapes; false when it is not one.
    package mutating func skipString() -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return false }
        var cursor = index + 1
        while cursor < bytes.count {
            let byte = bytes[cursor]
            switch byte {
            case UInt8(ascii: "\""):
                index = cursor + 1
                return true
            case UInt8(ascii: "\\"):
                guard cursor + 1 < bytes.count else { return false }
                switch bytes[cursor + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    cursor += 2
                case UInt8(ascii: "u"):
                    // \uD800-\uDFFF (surrogates) are left to the full decoder, which checks their pairing.
                    guard cursor + 5 < bytes.count, (2...5).allSatisfy({ Self.isHex(bytes[cursor + $0]) }),
                        bytes[cursor + 2] | 0x20 != UInt8(ascii: "d")
                    else { return false }
                    cursor += 6
                default:
                    return false
                }
            case 0x00..<0x20:
                return false
            default:
                cursor += 1
            }
        }
        return false
    }

    private mutating func skipLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] { return false }
        index += count
        return true
    }

    private mutating func skipNumber() -> Bool {
        var cursor = index
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "-") { cursor += 1 }
        let digitsStart = cursor
        while cursor < bytes.count, Self.isDigit(bytes[cursor]) { cursor += 1 }
        guard cursor > digitsStart, cursor - digitsStart == 1 || bytes[digitsStart] != 0x30 else { return false }
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: ".") {
            cursor += 1
            let fraction = cursor
            while cursor < bytes.count, Self.isDigit(bytes[cursor]) { cursor += 1 }
            guard cursor > fraction else { return false }
        }
        if cursor < bytes.count, bytes[cursor] | 0x20 == UInt8(ascii: "e") {
            cursor += 1
            if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "+") || bytes[cursor] == UInt8(ascii: "-") { cursor += 1 }
            let exponent = cursor
            while cursor < bytes.count, Self.isDigit(bytes[cursor]) { cursor += 1 }
            guard cursor > exponent else { return false }
        }
        index = cursor
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    private static func isHex(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    /// Whether the bytes in `range` are exactly `text`.
    package func equals(_ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        for offset in 0..<range.count where bytes[range.lowerBound + offset] != text.utf8Start[offset] { return false }
        return true
    }

    /// The bytes in `range` as a String (they are valid UTF-8: the caller checked the line).
    package func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}
