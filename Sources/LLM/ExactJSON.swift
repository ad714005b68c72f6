/// JSON exactly as a model wrote it: numbers keep their decimal text (`50.0`
/// stays `"50.0"`, `1e3` stays `"1e3"`), members keep their order. What a model
/// writes is read with this, never through `Double`, so an amount like `50.10`
/// is never `50.099999…` and `1e3` is seen for what it is.
public indirect enum ExactJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number's text as written (RFC 8259 grammar: `-?int(.frac)?(e[+-]?exp)?`).
    case number(String)
    case string(String)
    case array([ExactJSON])
    /// Members in the order written; a repeated key makes the text invalid.
    case object([Member])

    /// One member of an object.
    public struct Member: Sendable, Equatable {
        public let key: String
        public let value: ExactJSON

        /// - Parameters: the key and its value.
        public init(_ key: String, _ value: ExactJSON) {
            self.key = key
            self.value = value
        }
    }

    /// Nesting deeper than this is refused: a tool call is two or three levels deep.
    public static let maximumDepth = 32

    /// Parses one JSON value that is the whole text (whitespace around it allowed).
    /// - Parameter text: JSON text.
    /// - Returns: the value, or nil when the text is not exactly one JSON value.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        var reader = ExactJSONReader(bytes: bytes, index: 0)
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipWhitespace()
        guard reader.index == bytes.count else { return nil }
        self = value
    }

    /// Parses the JSON value that starts at `offset` (after optional whitespace)
    /// and says where it ends, for finding JSON inside text.
    /// - Parameters:
    ///   - bytes: UTF-8 text.
    ///   - offset: where to start.
    /// - Returns: the value and the offset just past it, or nil.
    public static func prefix(of bytes: [UInt8], at offset: Int) -> (value: ExactJSON, end: Int)? {
        var reader = ExactJSONReader(bytes: bytes, index: offset)
        guard let value = reader.value(depth: 0) else { return nil }
        return (value, reader.index)
    }

    /// The member `key` of an object.
    public subscript(key: String) -> ExactJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The text of a string value.
    public var stringValue: String? {
        if case .string(let text) = self { text } else { nil }
    }

    /// Compact JSON text; numbers are written exactly as they were read.
    public var jsonText: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .number(let text): out += text
        case .string(let text): Self.writeString(text, to: &out)
        case .array(let elements):
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                element.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { out += "," }
                Self.writeString(member.key, to: &out)
                out += ":"
                member.value.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// The recursive-descent reader behind ``ExactJSON``: RFC 8259, strictly.
struct ExactJSONReader {
    let bytes: [UInt8]
    var index: Int

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func value(depth: Int) -> ExactJSON? {
        guard depth < ExactJSON.maximumDepth else { return nil }
        skipWhitespace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"): return object(depth: depth)
        case UInt8(ascii: "["): return array(depth: depth)
        case UInt8(ascii: "\""): return string().map(ExactJSON.string)
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        default: return number()
        }
    }

    private mutating func object(depth: Int) -> ExactJSON? {
        index += 1
        var members: [ExactJSON.Member] = []
        if consume(UInt8(ascii: "}")) { return .object(members) }
        repeat {
            skipWhitespace()
            guard let key = string(), !members.contains(where: { $0.key == key }), consume(UInt8(ascii: ":")),
                  let value = value(depth: depth + 1)
            else { return nil }
            members.append(ExactJSON.Member(key, value))
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? .object(members) : nil
    }

    private mutating func array(depth: Int) -> ExactJSON? {
        index += 1
        var elements: [ExactJSON] = []
        if consume(UInt8(ascii: "]")) { return .array(elements) }
        repeat {
            guard let element = value(depth: depth + 1) else { return nil }
            elements.append(element)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? .array(elements) : nil
    }

    private mutating func literal(_ word: String, _ value: ExactJSON) -> ExactJSON? {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else { return nil }
        index += expected.count
        return value
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as text.
    private mutating func number() -> ExactJSON? {
        let start = index
        func digits(_ reader: inout ExactJSONReader) -> Int {
            let first = reader.index
            while reader.index < reader.bytes.count, Self.isDigit(reader.bytes[reader.index]) { reader.index += 1 }
            return reader.index - first
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, Self.isDigit(bytes[index]) else { return nil }
        if bytes[index] == UInt8(ascii: "0") { index += 1 } else { _ = digits(&self) }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { return nil }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { return nil }
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    /// A string at the cursor, escapes resolved; nil for bad text (raw control
    /// characters, unknown escapes, lone surrogates, invalid UTF-8).
    private mutating func string() -> String? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        var out: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard let scalar = unicodeEscape() else { return nil }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: return nil
                }
            case 0x00..<0x20:
                return nil
            default:
                out.append(byte)
            }
        }
        return nil
    }

    /// The scalar of `\uXXXX` (the `\u` already read), joining a surrogate pair.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard let high = hex4() else { return nil }
        guard (0xD800...0xDBFF).contains(high) else {
            return (0xDC00...0xDFFF).contains(high) ? nil : Unicode.Scalar(high)
        }
        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
        index += 2
        guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
        return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
            return nil
        }
        guard bytes[index..<index + 4].allSatisfy({ Self.isDigit($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }) else {
            return nil
        }
        index += 4
        return value
    }
}
