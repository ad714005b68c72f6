import CCurl
import Foundation

/// Blocking libcurl transfers for notifications: an HTTP POST and an SMTP send.
/// Call them from a thread pool, never from an event loop or the cooperative pool.
enum CurlTransfer {
    /// How long one delivery attempt may take: a slow receiver costs a retry, not a stuck worker.
    static let timeoutMs = 10_000
    /// How long connecting may take on loopback or a LAN.
    static let connectTimeoutMs = 3_000

    /// A transfer that did not happen, with libcurl's words.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// POSTs `body` and returns the HTTP status.
    static func post(url: String, headers: [String], body: [UInt8]) throws -> Int {
        try withHandle { handle in
            var list: UnsafeMutablePointer<curl_slist>?
            for header in headers { list = curl_slist_append(list, header) }
            defer { curl_slist_free_all(list) }
            try check(ccurl_setopt_string(handle, CURLOPT_URL, url))
            try check(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list))
            try check(ccurl_setopt_long(handle, CURLOPT_POST, 1))
            try check(ccurl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            return try body.withUnsafeBytes { bytes in
                try check(ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress)))
                try check(curl_easy_perform(handle))
                var status = 0
                try check(ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status))
                return status
            }
        }
    }

    /// Sends one message over SMTP (`smtp://host:port`).
    static func sendMail(url: String, from: String, to recipients: [String], message: [UInt8]) throws {
        try withHandle { handle in
            var list: UnsafeMutablePointer<curl_slist>?
            for recipient in recipients { list = curl_slist_append(list, "<\(recipient)>") }
            defer { curl_slist_free_all(list) }
            let source = UploadSource(bytes: message)
            let context = Unmanaged.passRetained(source)
            defer { context.release() }
            try check(ccurl_setopt_string(handle, CURLOPT_URL, url))
            try check(ccurl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(from)>"))
            try check(ccurl_setopt_slist(handle, CURLOPT_MAIL_RCPT, list))
            try check(ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1))
            try check(ccurl_setopt_write_callback(handle, CURLOPT_READFUNCTION) { buffer, size, count, user in
                guard let buffer, let user else { return 0 }
                return Unmanaged<UploadSource>.fromOpaque(user).takeUnretainedValue().read(into: buffer, room: size * count)
            })
            try check(ccurl_setopt_pointer(handle, CURLOPT_READDATA, context.toOpaque()))
            try check(curl_easy_perform(handle))
        }
    }

    private static func withHandle<T>(_ body: (UnsafeMutableRawPointer) throws -> T) throws -> T {
        _ = globalInit
        guard let handle = curl_easy_init() else { throw Failure(description: "curl_easy_init failed") }
        defer { curl_easy_cleanup(handle) }
        try check(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        try check(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMs))
        try check(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMs))
        // Responses are not read: only the status matters.
        try check(ccurl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { _, size, count, _ in size * count })
        return try body(handle)
    }

    private static func check(_ code: CURLcode) throws {
        guard code == CURLE_OK else { throw Failure(description: String(cString: curl_easy_strerror(code))) }
    }
}

/// The bytes libcurl uploads, read in chunks by its read callback (one thread).
private final class UploadSource {
    private let bytes: [UInt8]
    private var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutablePointer<CChar>, room: Int) -> Int {
        let count = min(room, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBufferPointer { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}
