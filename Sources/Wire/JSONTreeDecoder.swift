import Foundation

/// Codable decoding from a parsed ``JSONValue`` tree: the RPC core's fast path for
/// params and results.
///
/// Foundation's `JSONDecoder` decodes a `JSONValue` member (a run's document, its
/// events) one node at a time through keyed containers, generic metadata lookups and
/// thrown-and-caught attempts: in an approval cycle's profile (callgrind, state-svc
/// under agent-bench) that was three quarters of state-svc's instructions. Here the
/// text is parsed once by ``JSONValueParser`` and a `JSONValue` member is the subtree
/// itself. Everything the direct parser leaves to Foundation (fractions, exponents,
/// integers past Int64, surrogate escapes, repeated keys, malformed text) and the
/// types Foundation treats specially (`Date`, `Data`, `URL`, `Decimal`) go to
/// `JSONDecoder` whole, so values and errors stay what they were.
public enum WireJSON {
    /// Decodes `type` from JSON bytes.
    /// - Parameters:
    ///   - fallback: the decoder for what the fast path leaves alone.
    /// - Throws: `DecodingError`, as `JSONDecoder` would.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, fallback: JSONDecoder) throws -> T {
        guard let tree = data.withUnsafeBytes({ JSONValueParser.parse($0) }) else { return try fallback.decode(T.self, from: data) }
        if let value = tree as? T { return value }
        do {
            return try T(from: JSONTreeDecoder(tree, codingPath: []))
        } catch is JSONTreeUnsupported {
            return try fallback.decode(T.self, from: data)
        }
    }
}

/// Thrown inside the tree coders for a type Foundation's coders treat specially: the
/// caller starts again with Foundation's.
struct JSONTreeUnsupported: Error {
    static func check(_ type: Any.Type) throws {
        if type == Date.self || type == Data.self || type == URL.self || type == Decimal.self { throw JSONTreeUnsupported() }
    }
}

/// A `Decoder` over one node of a parsed tree.
struct JSONTreeDecoder: Decoder {
    let node: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ node: JSONValue, codingPath: [any CodingKey]) {
        self.node = node
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = node else { throw Self.mismatch([String: JSONValue].self, node, codingPath) }
        return KeyedDecodingContainer(KeyedTreeContainer<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = node else { throw Self.mismatch([JSONValue].self, node, codingPath) }
        return UnkeyedTreeContainer(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleTreeContainer(node: node, codingPath: codingPath) }

    static func mismatch(_ type: Any.Type, _ node: JSONValue, _ path: [any CodingKey]) -> DecodingError {
        DecodingError.typeMismatch(type, .init(codingPath: path, debugDescription: "Expected to decode \(type) but found \(node.kindName) instead."))
    }

    /// Decodes `type` from `node`: a `JSONValue` is the node itself, the rest go through their `init(from:)`.
    static func decode<T: Decodable>(_ type: T.Type, from node: JSONValue, at path: [any CodingKey]) throws -> T {
        if T.self == JSONValue.self, let value = node as? T { return value }
        if T.self == String.self, case .string(let text) = node, let value = text as? T { return value }
        try JSONTreeUnsupported.check(T.self)
        return try T(from: JSONTreeDecoder(node, codingPath: path))
    }
}

/// The scalar reads every container shares.
enum TreeScalars {
    static func bool(_ node: JSONValue, _ path: [any CodingKey]) throws -> Bool {
        guard case .bool(let value) = node else { throw JSONTreeDecoder.mismatch(Bool.self, node, path) }
        return value
    }

    static func string(_ node: JSONValue, _ path: [any CodingKey]) throws -> String {
        guard case .string(let value) = node else { throw JSONTreeDecoder.mismatch(String.self, node, path) }
        return value
    }

    static func double(_ node: JSONValue, _ path: [any CodingKey]) throws -> Double {
        switch node {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: throw JSONTreeDecoder.mismatch(Double.self, node, path)
        }
    }

    static func integer<T: FixedWidthInteger>(_ type: T.Type, _ node: JSONValue, _ path: [any CodingKey]) throws -> T {
        guard case .int(let value) = node else { throw JSONTreeDecoder.mismatch(T.self, node, path) }
        guard let exact = T(exactly: value) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "Number \(value) does not fit in \(T.self)."))
        }
        return exact
    }
}

struct KeyedTreeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func node(_ key: Key) throws -> JSONValue {
        guard let node = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "No value associated with key \(key.stringValue)."))
        }
        return node
    }

    private func present(_ key: Key, _ type: Any.Type) throws -> JSONValue {
        let value = try node(key)
        if value == .null {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "Expected \(type) value but found null instead."))
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try node(key) == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try TreeScalars.bool(present(key, type), codingPath + [key]) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try TreeScalars.string(present(key, type), codingPath + [key]) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try TreeScalars.double(present(key, type), codingPath + [key]) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try decode(Double.self, forKey: key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try TreeScalars.integer(type, present(key, type), codingPath + [key]) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let value = try node(key)
        // A JSONValue member may be null itself; anything else must not be.
        if value == .null, T.self != JSONValue.self {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "Expected \(type) value but found null instead."))
        }
        return try JSONTreeDecoder.decode(type, from: value, at: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONTreeDecoder(try node(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONTreeDecoder(try node(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { try superDecoder(forKey: Key(stringValue: "super")!) }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONTreeDecoder(members[key.stringValue] ?? .null, codingPath: codingPath + [key])
    }
}

/// An array index as a coding key, for paths such as `transfers[3]`.
struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

struct UnkeyedTreeContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    private(set) var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next(_ type: Any.Type) throws -> (JSONValue, [any CodingKey]) {
        let path = codingPath + [IndexKey(currentIndex)]
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "Unkeyed container is at end."))
        }
        let node = elements[currentIndex]
        currentIndex += 1
        return (node, path)
    }

    private mutating func present(_ type: Any.Type) throws -> (JSONValue, [any CodingKey]) {
        let path = codingPath + [IndexKey(currentIndex)]
        guard !isAtEnd, elements[currentIndex] != .null else {
            throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "Expected \(type) but found null instead."))
        }
        return try next(type)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { let (node, path) = try present(type); return try TreeScalars.bool(node, path) }
    mutating func decode(_ type: String.Type) throws -> String { let (node, path) = try present(type); return try TreeScalars.string(node, path) }
    mutating func decode(_ type: Double.Type) throws -> Double { let (node, path) = try present(type); return try TreeScalars.double(node, path) }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    mutating func decode(_ type: Int.Type) throws -> Int { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { let (node, path) = try present(type); return try TreeScalars.integer(type, node, path) }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (node, path) = T.self == JSONValue.self ? try next(type) : try present(type)
        return try JSONTreeDecoder.decode(type, from: node, at: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (node, path) = try next([String: JSONValue].self)
        return try JSONTreeDecoder(node, codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (node, path) = try next([JSONValue].self)
        return try JSONTreeDecoder(node, codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (node, path) = try next(JSONValue.self)
        return JSONTreeDecoder(node, codingPath: path)
    }
}

struct SingleTreeContainer: SingleValueDecodingContainer {
    let node: JSONValue
    let codingPath: [any CodingKey]

    private func present(_ type: Any.Type) throws -> JSONValue {
        guard node != .null else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "Expected \(type) but found null value instead."))
        }
        return node
    }

    func decodeNil() -> Bool { node == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try TreeScalars.bool(present(type), codingPath) }
    func decode(_ type: String.Type) throws -> String { try TreeScalars.string(present(type), codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try TreeScalars.double(present(type), codingPath) }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func decode(_ type: Int.Type) throws -> Int { try TreeScalars.integer(type, present(type), codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try TreeScalars.integer(type, present(type), codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try TreeScalars.integer(type, present(type), codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try TreeScalars.integer(type, present(type), codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try TreeScalars.integer(type, present(type), codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try TreeScalars.integer(type, present(type), codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try TreeScalars.integer(type, present(type), codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try TreeScalars.integer(type, present(type), codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try TreeScalars.integer(type, present(type), codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try TreeScalars.integer(type, present(type), codingPath) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self != JSONValue.self { _ = try present(type) }
        return try JSONTreeDecoder.decode(type, from: node, at: codingPath)
    }
}

extension JSONValue {
    /// The JSON kind, for error messages.
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "a dictionary"
        }
    }
}
