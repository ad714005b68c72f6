import Foundation

extension WireJSON {
    /// Encodes `value` as compact JSON: built as a ``JSONValue`` tree (a `JSONValue`
    /// member is put in as it is, not walked through `Encoder` node by node) and
    /// written by ``JSONValueWriter``. Values holding a fraction, and the types
    /// Foundation's encoder treats specially (`Date`, `Data`, `URL`, `Decimal`), go to
    /// `fallback` whole, so their spelling stays what it was.
    /// - Throws: `EncodingError`, as `JSONEncoder` would.
    public static func encode<T: Encodable>(_ value: T, fallback: JSONEncoder) throws -> Data {
        if let bytes = try tree(value)?.compactJSON() { return bytes }
        return try fallback.encode(value)
    }

    /// Strings longer than this go to Foundation's encoder with the whole value: the tree
    /// path wins on many small values, and a megabyte string gains nothing from it, while
    /// scanning it for escapes in this module's unoptimized (debug) build takes tens of
    /// milliseconds that the toolchain's optimized Foundation does not.
    static let largestTreeString = 64 * 1024

    /// `value` as a tree, or nil when a part of it needs Foundation's encoder.
    public static func tree<T: Encodable>(_ value: T) throws -> JSONValue? {
        if let json = value as? JSONValue { return json }
        do {
            return try JSONTreeEncoder.node(for: value, at: [])
        } catch is JSONTreeUnsupported {
            return nil
        }
    }
}

/// Where an encoder's containers write: filled in as the value encodes itself, read
/// once it is done. A class, because a nested container keeps writing into its slot
/// after its parent handed it out.
final class TreeSlot {
    enum Content {
        case empty
        case value(JSONValue)
        case object([String: TreeSlot])
        case array([TreeSlot])
    }

    var content: Content = .empty

    /// The finished value (an encoder that wrote nothing is an empty object, as in Foundation).
    var value: JSONValue {
        switch content {
        case .empty: .object([:])
        case .value(let value): value
        case .object(let members): .object(members.mapValues(\.value))
        case .array(let elements): .array(elements.map(\.value))
        }
    }

    // Each takes the collection out of `content` before changing it, so it is changed
    // in place rather than copied on every member.
    func member(_ key: String) -> TreeSlot {
        let slot = TreeSlot()
        if case .object(var members) = content {
            content = .empty
            members[key] = slot
            content = .object(members)
        } else {
            content = .object([key: slot])
        }
        return slot
    }

    func append() -> TreeSlot {
        let slot = TreeSlot()
        if case .array(var elements) = content {
            content = .empty
            elements.append(slot)
            content = .array(elements)
        } else {
            content = .array([slot])
        }
        return slot
    }

    func makeObject() {
        if case .object = content { return }
        content = .object([:])
    }

    func makeArray() {
        if case .array = content { return }
        content = .array([])
    }

    var count: Int {
        if case .array(let elements) = content { return elements.count }
        return 0
    }
}

/// An `Encoder` writing into one slot of the tree.
struct JSONTreeEncoder: Encoder {
    let slot: TreeSlot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Encodes `value` into a fresh tree.
    static func node<T: Encodable>(for value: T, at path: [any CodingKey]) throws -> JSONValue {
        let slot = TreeSlot()
        try write(value, into: slot, at: path)
        return slot.value
    }

    /// Writes `value` into `slot`: a `JSONValue` and the plain scalars directly, the rest
    /// through their `encode(to:)`.
    static func write<T: Encodable>(_ value: T, into slot: TreeSlot, at path: [any CodingKey]) throws {
        switch value {
        case let json as JSONValue: slot.content = .value(json)
        case let text as String: slot.content = .value(try TreeValues.string(text))
        case let flag as Bool: slot.content = .value(.bool(flag))
        case let number as Int: slot.content = .value(.int(Int64(number)))
        case let number as Int64: slot.content = .value(.int(number))
        default:
            try JSONTreeUnsupported.check(T.self)
            try value.encode(to: JSONTreeEncoder(slot: slot, codingPath: path))
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        slot.makeObject()
        return KeyedEncodingContainer(KeyedTreeWriter<Key>(slot: slot, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        slot.makeArray()
        return UnkeyedTreeWriter(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleTreeWriter(slot: slot, codingPath: codingPath) }
}

/// Scalars as tree values; a number that is not a whole Int64 makes the caller fall back.
enum TreeValues {
    static func integer<T: BinaryInteger>(_ value: T) throws -> JSONValue {
        guard let exact = Int64(exactly: value) else { throw JSONTreeUnsupported() }
        return .int(exact)
    }

    static func string(_ text: String) throws -> JSONValue {
        guard text.utf8.count <= WireJSON.largestTreeString else { throw JSONTreeUnsupported() }
        return .string(text)
    }

    /// Fractions are spelled by Foundation's encoder, as before.
    static func floating<T: BinaryFloatingPoint>(_ value: T) throws -> JSONValue { throw JSONTreeUnsupported() }
}

struct KeyedTreeWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: TreeSlot
    let codingPath: [any CodingKey]

    private func put(_ value: JSONValue, _ key: Key) { slot.member(key.stringValue).content = .value(value) }

    mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(try TreeValues.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(try TreeValues.floating(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(try TreeValues.floating(value), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(try TreeValues.integer(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(try TreeValues.integer(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(try TreeValues.integer(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(try TreeValues.integer(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(.int(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(try TreeValues.integer(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(try TreeValues.integer(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(try TreeValues.integer(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(try TreeValues.integer(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(try TreeValues.integer(value), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try JSONTreeEncoder.write(value, into: slot.member(key.stringValue), at: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        JSONTreeEncoder(slot: slot.member(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        JSONTreeEncoder(slot: slot.member(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        JSONTreeEncoder(slot: slot.member(key.stringValue), codingPath: codingPath + [key])
    }
}

struct UnkeyedTreeWriter: UnkeyedEncodingContainer {
    let slot: TreeSlot
    let codingPath: [any CodingKey]
    var count: Int { slot.count }

    private func put(_ value: JSONValue) { slot.append().content = .value(value) }

    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ value: Bool) throws { put(.bool(value)) }
    mutating func encode(_ value: String) throws { put(try TreeValues.string(value)) }
    mutating func encode(_ value: Double) throws { put(try TreeValues.floating(value)) }
    mutating func encode(_ value: Float) throws { put(try TreeValues.floating(value)) }
    mutating func encode(_ value: Int) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: Int8) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: Int16) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: Int32) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: Int64) throws { put(.int(value)) }
    mutating func encode(_ value: UInt) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: UInt8) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: UInt16) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: UInt32) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: UInt64) throws { put(try TreeValues.integer(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath + [IndexKey(count)]
        try JSONTreeEncoder.write(value, into: slot.append(), at: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = codingPath + [IndexKey(count)]
        return JSONTreeEncoder(slot: slot.append(), codingPath: path).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = codingPath + [IndexKey(count)]
        return JSONTreeEncoder(slot: slot.append(), codingPath: path).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let path = codingPath + [IndexKey(count)]
        return JSONTreeEncoder(slot: slot.append(), codingPath: path)
    }
}

struct SingleTreeWriter: SingleValueEncodingContainer {
    let slot: TreeSlot
    let codingPath: [any CodingKey]

    private func put(_ value: JSONValue) { slot.content = .value(value) }

    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ value: Bool) throws { put(.bool(value)) }
    mutating func encode(_ value: String) throws { put(try TreeValues.string(value)) }
    mutating func encode(_ value: Double) throws { put(try TreeValues.floating(value)) }
    mutating func encode(_ value: Float) throws { put(try TreeValues.floating(value)) }
    mutating func encode(_ value: Int) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: Int8) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: Int16) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: Int32) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: Int64) throws { put(.int(value)) }
    mutating func encode(_ value: UInt) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: UInt8) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: UInt16) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: UInt32) throws { put(try TreeValues.integer(value)) }
    mutating func encode(_ value: UInt64) throws { put(try TreeValues.integer(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws { try JSONTreeEncoder.write(value, into: slot, at: codingPath) }
}
