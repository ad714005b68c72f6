import Foundation
import NIOCore

/// A cheap look at a large line before any of it is parsed into values: its calls'
/// methods and tokens, so a caller who may not call them is refused at the cost of a
/// byte scan, not of decoding a megabyte of escapes (about half a second of the event
/// loop). Lines of ``RPCLimits/preAuthorizationThreshold`` bytes or more are looked at;
/// smaller ones cost little to decode and keep every answer they always had.
///
/// The scan is tolerant (it only finds where members start and end); when it cannot
/// tell, or any call in the line may go ahead, it returns nil and the line is decoded
/// as usual, so this refuses earlier, never differently.
enum PreAuthorization {
    /// One call found in the line: its id (nil: a notification), method and token.
    struct Call {
        let id: RPCID?
        let method: String
        let token: String?
    }

    /// The answer to the line when none of its calls may go ahead (each refused for its
    /// method and token, or its method unknown); nil when the line must be decoded.
    /// - Parameters:
    ///   - line: the request line.
    ///   - router: the service's methods.
    ///   - refusal: the authorization check's verdict for an access rule and a token (nil: allowed).
    ///   - encoder: writes the error responses.
    static func answer(
        to line: ByteBuffer, router: RPCRouter, encoder: ResponseEncoder, refusal: (RPCAccess, String?) -> RPCError?
    ) -> Data?? {
        guard line.readableBytes >= RPCLimits.preAuthorizationThreshold else { return nil }
        guard let (calls, isBatch) = line.withUnsafeReadableBytes({ scan($0) }), !calls.isEmpty else { return nil }
        var answers: [Data] = []
        for call in calls {
            let error: RPCError
            if let entry = router.entry(for: call.method) {
                guard let refused = refusal(entry.options.access, call.token) else { return nil }  // allowed: decode it
                error = refused
            } else {
                error = .methodNotFound(call.method)
            }
            if let id = call.id { answers.append(encoder.failure(id: id, error: error)) }
        }
        guard isBatch else { return .some(answers.first) }
        guard !answers.isEmpty else { return .some(nil) }  // all notifications: nothing at all
        var data = Data("[".utf8)
        for (index, answer) in answers.enumerated() {
            if index > 0 { data.append(UInt8(ascii: ",")) }
            data.append(answer.dropLast())
        }
        data.append(contentsOf: Array("]\n".utf8))
        return .some(data)
    }

    /// The calls of a line (one object, or a batch of them) and whether it is a batch.
    static func scan(_ bytes: UnsafeRawBufferPointer) -> ([Call], Bool)? {
        var walker = TolerantWalker(bytes)
        walker.skipWhitespace()
        if walker.peek == UInt8(ascii: "[") {
            walker.index += 1
            var calls: [Call] = []
            walker.skipWhitespace()
            if walker.peek == UInt8(ascii: "]") { return nil }
            repeat {
                guard calls.count < RPCLimits.maximumBatchEntries, let call = object(&walker) else { return nil }
                calls.append(call)
                walker.skipWhitespace()
            } while walker.take(UInt8(ascii: ","))
            guard walker.take(UInt8(ascii: "]")), walker.atEndAfterWhitespace else { return nil }
            return (calls, true)
        }
        guard let call = object(&walker), walker.atEndAfterWhitespace else { return nil }
        return ([call], false)
    }

    /// One request object: `jsonrpc` "2.0", a method, an id that can be echoed, and the
    /// token in `params._meta` if any.
    private static func object(_ walker: inout TolerantWalker) -> Call? {
        walker.skipWhitespace()
        guard walker.take(UInt8(ascii: "{")) else { return nil }
        var version = false, method: String?, id: RPCID?, hasID = false, token: String?
        walker.skipWhitespace()
        if walker.take(UInt8(ascii: "}")) { return nil }
        repeat {
            walker.skipWhitespace()
            guard let key = walker.string(maximum: 16), walker.takeAfterWhitespace(UInt8(ascii: ":")) else { return nil }
            walker.skipWhitespace()
            switch key {
            case "jsonrpc":
                guard walker.string(maximum: 8) == "2.0" else { return nil }
                version = true
            case "method":
                guard method == nil, let value = walker.string(maximum: 256) else { return nil }
                method = value
            case "id":
                guard !hasID, let value = walker.id() else { return nil }
                (id, hasID) = (value, true)
            case "params":
                guard walker.peek == UInt8(ascii: "{") else { return nil }
                guard let found = walker.metaToken() else { return nil }
                token = found
            default:
                guard walker.skipValue() else { return nil }
            }
            walker.skipWhitespace()
        } while walker.take(UInt8(ascii: ","))
        guard walker.take(UInt8(ascii: "}")), version, let method else { return nil }
        return Call(id: hasID ? id : nil, method: method, token: token)
    }
}

/// Finds where JSON values start and end without checking them closely (the full
/// decoder does that, for callers who may call).
struct TolerantWalker {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    var atEndAfterWhitespace: Bool {
        mutating get {
            skipWhitespace()
            return index >= bytes.count
        }
    }

    mutating func skipWhitespace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    mutating func takeAfterWhitespace(_ byte: UInt8) -> Bool {
        skipWhitespace()
        return take(byte)
    }

    /// A string value of at most `maximum` bytes of JSON text, escapes decoded; nil otherwise.
    mutating func string(maximum: Int) -> String? {
        let start = index
        guard skipString(), index - start - 2 <= maximum * 6 else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        if !slice.contains(UInt8(ascii: "\\")) {
            return slice.count - 2 <= maximum ? String(decoding: slice.dropFirst().dropLast(), as: UTF8.self) : nil
        }
        guard case .string(let text)? = try? JSONValue(parsing: String(decoding: slice, as: UTF8.self)), text.utf8.count <= maximum else {
            return nil
        }
        return text
    }

    /// A request id: a string, an integer or null.
    mutating func id() -> RPCID? {
        switch peek {
        case UInt8(ascii: "\""): return string(maximum: 256).map(RPCID.string)
        case UInt8(ascii: "n"):
            guard skipValue() else { return nil }
            return .null
        default:
            let start = index
            guard skipValue(), index - start <= 20 else { return nil }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            return Int64(text).map(RPCID.int)
        }
    }

    /// Skips a params object: `.some(token)` with the string at `_meta.token` (nil when
    /// absent), or nil when the object cannot be walked.
    mutating func metaToken() -> String?? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var token: String?
        skipWhitespace()
        if take(UInt8(ascii: "}")) { return .some(nil) }
        repeat {
            skipWhitespace()
            guard let key = string(maximum: 64), takeAfterWhitespace(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            if key == "_meta", peek == UInt8(ascii: "{") {
                index += 1
                skipWhitespace()
                if !take(UInt8(ascii: "}")) {
                    repeat {
                        skipWhitespace()
                        guard let field = string(maximum: 64), takeAfterWhitespace(UInt8(ascii: ":")) else { return nil }
                        skipWhitespace()
                        if field == "token", peek == UInt8(ascii: "\"") {
                            guard let value = string(maximum: 512) else { return nil }
                            token = value
                        } else {
                            guard skipValue() else { return nil }
                        }
                        skipWhitespace()
                    } while take(UInt8(ascii: ","))
                    guard take(UInt8(ascii: "}")) else { return nil }
                }
            } else {
                guard skipValue() else { return nil }
            }
            skipWhitespace()
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")) else { return nil }
        return .some(token)
    }

    /// Skips any value: strings to their closing quote (any escape), containers by depth,
    /// everything else to the next delimiter.
    mutating func skipValue() -> Bool {
        skipWhitespace()
        guard let first = peek else { return false }
        if first == UInt8(ascii: "\"") { return skipString() }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            var depth = 0
            while let byte = peek {
                switch byte {
                case UInt8(ascii: "\""):
                    guard skipString() else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                    guard depth <= JSONScanner.maximumDepth else { return false }
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                default: break
                }
                index += 1
                if depth == 0 { return true }
            }
            return false
        }
        let start = index
        while let byte = peek, byte != UInt8(ascii: ","), byte != UInt8(ascii: "}"), byte != UInt8(ascii: "]"),
              byte != 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D {
            index += 1
        }
        return index > start
    }

    /// Skips a string at the cursor: to the first quote not escaped.
    mutating func skipString() -> Bool {
        guard take(UInt8(ascii: "\"")) else { return false }
        while let byte = peek {
            index += 1
            if byte == UInt8(ascii: "\\") {
                guard peek != nil else { return false }
                index += 1
            } else if byte == UInt8(ascii: "\"") {
                return true
            }
        }
        return false
    }
}
