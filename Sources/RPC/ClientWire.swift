import Foundation
import NIOCore

/// The client's request and response bytes, written and read by hand around
/// the parts only `Codable` should see: the params going out, the result or
/// error coming back.
enum ClientWire {
    private static let head = Array(#"{"jsonrpc":"2.0""#.utf8)
    private static let idKey = Array(#","id":"#.utf8)
    private static let methodKey = Array(#","method":"#.utf8)
    private static let paramsKey = Array(#","params":"#.utf8)
    private static let metaKey = Array(#""_meta":"#.utf8)

    /// `{"jsonrpc":"2.0","id":<id>,"method":<method>,"params":{...params,"_meta":{...}}}` and a newline,
    /// written straight into one buffer: appending to `Data` a byte or a field at a time
    /// cost about a quarter of a call's client instructions (callgrind: `Data.replaceBytes`
    /// and its exclusivity checks, 250 times per call).
    /// - Parameters:
    ///   - params: the params, already encoded as a JSON object.
    ///   - meta: what goes in `params._meta` (left out when empty).
    ///   - allocator: where the buffer comes from.
    /// - Returns: nil when `params` is not an object's text (the caller encodes the slow way).
    static func request(
        id: Int64?, method: String, params: Data, meta: RequestMeta, allocator: ByteBufferAllocator = .init()
    ) -> ByteBuffer? {
        guard params.count >= 2, params.first == UInt8(ascii: "{"), params.last == UInt8(ascii: "}") else { return nil }
        var out = allocator.buffer(capacity: params.count + method.utf8.count + 200)
        out.writeBytes(head)
        if let id {
            out.writeBytes(idKey)
            writeInteger(id, to: &out)
        }
        out.writeBytes(methodKey)
        writeString(method, to: &out)
        out.writeBytes(paramsKey)
        if meta.isEmpty {
            out.writeBytes(params)
        } else {
            out.writeBytes(params.dropLast())
            if params.count > 2 { out.writeInteger(UInt8(ascii: ",")) }
            out.writeBytes(metaKey)
            writeMeta(meta, to: &out)
            out.writeInteger(UInt8(ascii: "}"))
        }
        out.writeBytes(tail)
        return out
    }

    private static let tail = Array("}\n".utf8)
    private static let deadlineKey = Array(#""deadline_ms":"#.utf8)
    private static let traceparentKey = Array(#""traceparent":"#.utf8)
    private static let tokenKey = Array(#""token":"#.utf8)

    /// `{"deadline_ms":…,"traceparent":"…","token":"…"}`, the members that are set, written
    /// by hand: the same JSON `RequestMeta`'s `Codable` conformance writes, without a
    /// `JSONEncoder` pass on every call (callgrind: about a fifth of a call's client cost).
    static func writeMeta(_ meta: RequestMeta, to out: inout ByteBuffer) {
        out.writeInteger(UInt8(ascii: "{"))
        var first = true
        func separate(_ out: inout ByteBuffer) {
            if !first { out.writeInteger(UInt8(ascii: ",")) }
            first = false
        }
        if let deadline = meta.deadlineMs {
            separate(&out)
            out.writeBytes(deadlineKey)
            writeInteger(deadline, to: &out)
        }
        if let traceparent = meta.traceparent {
            separate(&out)
            out.writeBytes(traceparentKey)
            writeString(traceparent, to: &out)
        }
        if let token = meta.token {
            separate(&out)
            out.writeBytes(tokenKey)
            writeString(token, to: &out)
        }
        out.writeInteger(UInt8(ascii: "}"))
    }

    /// The decimal digits of `value`, without a `String` in between.
    static func writeInteger(_ value: Int64, to out: inout ByteBuffer) {
        guard value != 0 else {
            out.writeInteger(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 20 digits and a sign fit in 24 bytes
        let magnitude = value.magnitude
        withUnsafeMutableBytes(of: &digits) { scratch in
            var rest = magnitude
            var index = scratch.count
            while rest > 0 {
                index -= 1
                scratch[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            if value < 0 {
                index -= 1
                scratch[index] = UInt8(ascii: "-")
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[index...]))
        }
    }

    /// A JSON string literal of `text`: copied whole when nothing in it needs escaping
    /// (method names, tokens, trace ids: always), escaped byte by byte otherwise.
    static func writeString(_ text: String, to out: inout ByteBuffer) {
        out.writeInteger(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            guard bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                out.writeBytes(UnsafeRawBufferPointer(bytes))
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    out.writeInteger(UInt8(ascii: "\\"))
                    out.writeInteger(byte)
                case 0x00..<0x20:
                    out.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    out.writeBytes(Hex.encode([byte]).utf8)
                default:
                    out.writeInteger(byte)
                }
            }
        }
        out.writeInteger(UInt8(ascii: "\""))
    }

    private static let responsePrefix = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
    private static let resultKey = Array(#","result":"#.utf8)
    private static let errorKey = Array(#","error":"#.utf8)

    /// The result or error of a response in the form the RPC core's servers write
    /// (``ResponseEncoder``: `{"jsonrpc":"2.0","id":<integer>,"result":<result>}`),
    /// decoded from its own bytes without decoding the envelope. Nil for any other
    /// form, or when the payload does not decode: the caller then decodes the whole
    /// line, which reports what is wrong.
    static func response<Result: Decodable>(_ line: ByteBuffer, as type: Result.Type, decoder: JSONDecoder) -> Swift.Result<Result, RPCError>? {
        let located = line.withUnsafeReadableBytes { bytes -> (isError: Bool, body: Data)? in
            guard bytes.starts(with: responsePrefix), bytes.last == UInt8(ascii: "}") else { return nil }
            var index = responsePrefix.count
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            guard index > responsePrefix.count else { return nil }
            let rest = bytes[index...]
            let isError: Bool
            if rest.starts(with: resultKey) {
                isError = false
                index += resultKey.count
            } else if rest.starts(with: errorKey) {
                isError = true
                index += errorKey.count
            } else {
                return nil
            }
            guard index < bytes.count - 1 else { return nil }
            return (isError, Data(UnsafeRawBufferPointer(rebasing: bytes[index..<(bytes.count - 1)])))
        }
        guard let located else { return nil }
        if located.isError {
            guard let error = try? WireJSON.decode(ErrorObject.self, from: located.body, fallback: decoder) else { return nil }
            return .failure(error.rpcError)
        }
        guard let result = try? WireJSON.decode(Result.self, from: located.body, fallback: decoder) else { return nil }
        return .success(result)
    }
}
