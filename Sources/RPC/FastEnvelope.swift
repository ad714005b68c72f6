import Foundation
import NIOCore

/// Reads the common request by hand: one JSON object with `"jsonrpc":"2.0"`, an
/// integer or plain string id (or none), a plain string method and object params
/// whose `_meta` holds only `deadline_ms`, `traceparent` and `token`. Only the
/// params go through `Codable`, into the method's own type.
///
/// Everything else (batches, escapes in the envelope, unknown or repeated
/// members, null ids, any malformed JSON, params that fail to decode) gives nil, and ``DecodedEntry`` decodes
/// the line as before, with its answers and error messages. So this changes
/// speed, never an answer.
enum FastEnvelope {
    /// The call in `line`, or nil when the full decoder must judge the line.
    /// - Parameter refusal: why the caller may not call a method (nil: it may); a refused
    ///   call's params are never decoded (the caller hears the refusal first anyway).
    static func call(
        in line: ByteBuffer, router: RPCRouter, decoder: JSONDecoder, refusal: (RPCAccess, String?) -> RPCError?
    ) -> IncomingCall? {
        guard let envelope = line.withUnsafeReadableBytes({ scan($0) }) else { return nil }
        guard let entry = router.entry(for: envelope.method) else {
            return IncomingCall(
                id: envelope.id, method: envelope.method, meta: RequestMeta(), entry: nil,
                params: .failure(.methodNotFound(envelope.method)))
        }
        if let refused = refusal(entry.options.access, envelope.meta.token) {
            return IncomingCall(id: envelope.id, method: envelope.method, meta: envelope.meta, entry: entry, params: .failure(refused))
        }
        // Params that do not decode are judged by the full decoder too: decoding a
        // slice on its own reports some failures differently (a number that does not
        // fit reads as "not valid JSON"), and errors are not the hot path.
        guard let params = try? entry.decodeParamsData(envelope.params, decoder) else { return nil }
        return IncomingCall(id: envelope.id, method: envelope.method, meta: envelope.meta, entry: entry, params: .success(params))
    }

    private struct Envelope {
        var id: RPCID?
        var method: String
        var params: Data?
        var meta: RequestMeta
    }

    private static func scan(_ bytes: UnsafeRawBufferPointer) -> Envelope? {
        var scanner = JSONScanner(bytes)
        guard scanner.consume(UInt8(ascii: "{")) else { return nil }
        var version = false
        var id: RPCID?
        var method: String?
        var params: Range<Int>?
        repeat {
            guard let key = scanner.plainString(), scanner.consume(UInt8(ascii: ":")) else { return nil }
            if scanner.equals(key, "jsonrpc") {
                guard !version, let value = scanner.plainString(), scanner.equals(value, "2.0") else { return nil }
                version = true
            } else if scanner.equals(key, "id") {
                guard id == nil else { return nil }
                if scanner.peekAfterWhitespace == UInt8(ascii: "\"") {
                    guard let value = scanner.plainString() else { return nil }
                    id = .string(scanner.string(value))
                } else {
                    guard let value = scanner.integer() else { return nil }
                    id = .int(value)
                }
            } else if scanner.equals(key, "method") {
                guard method == nil, let value = scanner.plainString() else { return nil }
                method = scanner.string(value)
            } else if scanner.equals(key, "params") {
                guard params == nil, scanner.peekAfterWhitespace == UInt8(ascii: "{") else { return nil }
                let start = scanner.index
                guard scanner.skipValue() else { return nil }
                params = start..<scanner.index
            } else {
                return nil
            }
        } while scanner.consume(UInt8(ascii: ","))
        guard scanner.consume(UInt8(ascii: "}")) else { return nil }
        scanner.skipWhitespace()
        guard scanner.isAtEnd, version, let method else { return nil }
        var meta = RequestMeta()
        if let params {
            guard let parsed = self.meta(in: bytes, params) else { return nil }
            meta = parsed
        }
        return Envelope(
            id: id, method: method, params: params.map { Data(UnsafeRawBufferPointer(rebasing: bytes[$0])) }, meta: meta)
    }

    /// `params._meta`, read from the params object (already checked to be JSON); nil to fall back.
    private static func meta(in bytes: UnsafeRawBufferPointer, _ params: Range<Int>) -> RequestMeta? {
        var scanner = JSONScanner(UnsafeRawBufferPointer(rebasing: bytes[params]))
        var meta = RequestMeta()
        guard scanner.consume(UInt8(ascii: "{")) else { return nil }
        if scanner.consume(UInt8(ascii: "}")) { return meta }
        var seen = false
        repeat {
            guard let key = scanner.plainString(), scanner.consume(UInt8(ascii: ":")) else { return nil }
            guard scanner.equals(key, "_meta") else {
                guard scanner.skipValue() else { return nil }
                continue
            }
            guard !seen, scanner.consume(UInt8(ascii: "{")) else { return nil }
            seen = true
            if scanner.consume(UInt8(ascii: "}")) { continue }
            repeat {
                guard let field = scanner.plainString(), scanner.consume(UInt8(ascii: ":")) else { return nil }
                if scanner.equals(field, "deadline_ms") {
                    guard meta.deadlineMs == nil, let value = scanner.integer() else { return nil }
                    meta.deadlineMs = value
                } else if scanner.equals(field, "traceparent") {
                    guard meta.traceparent == nil, let value = scanner.plainString() else { return nil }
                    meta.traceparent = scanner.string(value)
                } else if scanner.equals(field, "token") {
                    guard meta.token == nil, let value = scanner.plainString() else { return nil }
                    meta.token = scanner.string(value)
                } else {
                    return nil
                }
            } while scanner.consume(UInt8(ascii: ","))
            guard scanner.consume(UInt8(ascii: "}")) else { return nil }
        } while scanner.consume(UInt8(ascii: ","))
        return meta
    }
}
