import Foundation

extension JSONValue {
    /// Parses JSON text.
    ///
    /// The common document (integers, strings with the usual escapes, objects
    /// and arrays no deeper than ``JSONScanner/maximumDepth``) is read by a
    /// direct parser; anything else (fractions, exponents, integers beyond
    /// Int64, surrogate escapes, repeated keys, malformed text) goes through
    /// `JSONDecoder` as before, which gives the same values and the same errors.
    /// - Parameter text: one JSON value.
    /// - Throws: `DecodingError` when the text is not JSON.
    public init(parsing text: String) throws {
        var text = text
        if let value = text.withUTF8({ bytes in JSONValueParser.parse(UnsafeRawBufferPointer(bytes)) }) {
            self = value
            return
        }
        self = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// Parses JSON bytes, as ``init(parsing:)-(String)`` does.
    /// - Parameter data: one JSON value, UTF-8.
    /// - Throws: `DecodingError` when the bytes are not JSON.
    public init(parsing data: Data) throws {
        if let value = data.withUnsafeBytes({ JSONValueParser.parse($0) }) {
            self = value
            return
        }
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }
}

/// The direct parser behind ``JSONValue/init(parsing:)-(String)``: nil means "not sure, ask JSONDecoder".
enum JSONValueParser {
    static func parse(_ bytes: UnsafeRawBufferPointer) -> JSONValue? {
        // Bytes that are not UTF-8 are left to JSONDecoder, which says so.
        guard bytes.allSatisfy({ $0 < 0x80 }) || String(validating: bytes, as: UTF8.self) != nil else { return nil }
        var scanner = JSONScanner(bytes)
        guard let value = parseValue(&scanner, depth: 0) else { return nil }
        scanner.skipWhitespace()
        return scanner.isAtEnd ? value : nil
    }

    private static func parseValue(_ scanner: inout JSONScanner, depth: Int) -> JSONValue? {
        guard depth < JSONScanner.maximumDepth, let first = scanner.peekAfterWhitespace else { return nil }
        switch first {
        case UInt8(ascii: "{"):
            _ = scanner.consume(UInt8(ascii: "{"))
            var members: [String: JSONValue] = [:]
            if scanner.consume(UInt8(ascii: "}")) { return .object(members) }
            repeat {
                guard scanner.peekAfterWhitespace == UInt8(ascii: "\""), let key = parseString(&scanner),
                    members[key] == nil, scanner.consume(UInt8(ascii: ":")), let value = parseValue(&scanner, depth: depth + 1)
                else { return nil }
                members[key] = value
            } while scanner.consume(UInt8(ascii: ","))
            return scanner.consume(UInt8(ascii: "}")) ? .object(members) : nil
        case UInt8(ascii: "["):
            _ = scanner.consume(UInt8(ascii: "["))
            var elements: [JSONValue] = []
            if scanner.consume(UInt8(ascii: "]")) { return .array(elements) }
            repeat {
                guard let value = parseValue(&scanner, depth: depth + 1) else { return nil }
                elements.append(value)
            } while scanner.consume(UInt8(ascii: ","))
            return scanner.consume(UInt8(ascii: "]")) ? .array(elements) : nil
        case UInt8(ascii: "\""):
            return parseString(&scanner).map(JSONValue.string)
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let start = scanner.index
            guard scanner.skipValue(depth: depth) else { return nil }
            switch scanner.index - start {
            case 4 where first == UInt8(ascii: "t"): return .bool(true)
            case 5: return .bool(false)
            default: return .null
            }
        default:
            return scanner.integer().map(JSONValue.int)
        }
    }

    /// A string at the cursor with its escapes resolved; nil for surrogate escapes or bad text.
    private static func parseString(_ scanner: inout JSONScanner) -> String? {
        if let plain = scanner.plainString() { return scanner.string(plain) }
        let start = scanner.index
        guard scanner.skipString() else { return nil }  // checks the grammar, surrogates excluded
        let bytes = scanner.bytes
        var out: [UInt8] = []
        out.reserveCapacity(scanner.index - start)
        var cursor = start + 1
        let end = scanner.index - 1
        while cursor < end {
            let byte = bytes[cursor]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                cursor += 1
                continue
            }
            let escape = bytes[cursor + 1]
            cursor += 2
            switch escape {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar: UInt32 = 0
                for offset in 0..<4 {
                    let digit = bytes[cursor + offset]
                    let value: UInt8 = digit <= 0x39 ? digit - 0x30 : (digit | 0x20) - UInt8(ascii: "a") + 10
                    scalar = scalar << 4 | UInt32(value)
                }
                cursor += 4
                guard let unicode = Unicode.Scalar(scalar) else { return nil }
                out.append(contentsOf: String(Character(unicode)).utf8)
            default: out.append(escape)  // " \ /
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension JSONValue {
    /// Compact JSON text written directly, without `JSONEncoder`'s generic
    /// machinery: what state-svc stores for every saved document. Nil when the
    /// value holds a fraction (``double(_:)``), whose spelling is left to `JSONEncoder`.
    /// Object members come in no particular order, as with `JSONEncoder`.
    public func compactJSON() -> Data? {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        guard JSONValueWriter.write(self, to: &out) else { return nil }
        return Data(out)
    }
}

/// The writer behind ``JSONValue/compactJSON()``.
enum JSONValueWriter {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func write(_ value: JSONValue, to out: inout [UInt8]) -> Bool {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): out.append(contentsOf: String(number).utf8)
        case .double: return false
        case .string(let text): writeString(text, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                guard write(element, to: &out) else { return false }
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                guard write(member, to: &out) else { return false }
            }
            out.append(UInt8(ascii: "}"))
        }
        return true
    }

    /// A string literal: `"` and `\` escaped, control characters as short escapes or `\u00XX`, the rest as UTF-8.
    static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape: copied whole (a byte at a time, this loop was a
        // quarter of state-svc's instructions in an approval cycle, callgrind).
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
