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

    /// `{"jsonrpc":"2.0","id":<id>,"method":<method>,"params":{...params,"_meta":{...}}}` and a newline.
    /// - Parameters:
    ///   - params: the params, already encoded as a JSON object.
    ///   - meta: what goes in `params._meta` (left out when empty).
    /// - Returns: nil when `params` is not an object's text (the caller encodes the slow way).
    static func request(id: Int64?, method: String, params: Data, meta: RequestMeta) -> Data? {
        guard params.count >= 2, params.first == UInt8(ascii: "{"), params.last == UInt8(ascii: "}") else { return nil }
        var out = Data()
        out.reserveCapacity(params.count + method.utf8.count + 200)
        out.append(contentsOf: head)
        if let id {
            out.append(contentsOf: idKey)
            out.append(contentsOf: String(id).utf8)
        }
        out.append(contentsOf: methodKey)
        appendString(method, to: &out)
        out.append(contentsOf: paramsKey)
        if meta.isEmpty {
            out.append(params)
        } else {
            out.append(params.dropLast())
            if params.count > 2 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: metaKey)
            appendMeta(meta, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: Array("}\n".utf8))
        return out
    }

    private static let deadlineKey = Array(#""deadline_ms":"#.utf8)
    private static let traceparentKey = Array(#""traceparent":"#.utf8)
    private static let tokenKey = Array(#""token":"#.utf8)

    /// `{"deadline_ms":…,"traceparent":"…","token":"…"}`, the members that are set, written
    /// by hand: the same JSON `RequestMeta`'s `Codable` conformance writes, without a
    /// `JSONEncoder` pass on every call (callgrind: about a fifth of a call's client cost).
    static func appendMeta(_ meta: RequestMeta, to out: inout Data) {
        out.append(UInt8(ascii: "{"))
        var first = true
        func separate() {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
        }
        if let deadline = meta.deadlineMs {
            separate()
            out.append(contentsOf: deadlineKey)
            out.append(contentsOf: String(deadline).utf8)
        }
        if let traceparent = meta.traceparent {
            separate()
            out.append(contentsOf: traceparentKey)
            appendString(traceparent, to: &out)
        }
        if let token = meta.token {
            separate()
            out.append(contentsOf: tokenKey)
            appendString(token, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// A JSON string literal of `text`.
    static func appendString(_ text: String, to out: inout Data) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x00..<0x20: out.append(contentsOf: Array(String(format: "\\u%04x", Int(byte)).utf8))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
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
            guard let error = try? decoder.decode(ErrorObject.self, from: located.body) else { return nil }
            return .failure(error.rpcError)
        }
        guard let result = try? decoder.decode(Result.self, from: located.body) else { return nil }
        return .success(result)
    }
}
