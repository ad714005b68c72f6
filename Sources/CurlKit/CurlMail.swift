import CCurl
import Foundation

/// One SMTP send through libcurl: the message is uploaded in chunks by
/// libcurl's read callback, on the one pool thread that runs `perform()`.
final class CurlMail {
    private let url: String
    private let from: String
    private let recipients: [String]
    private let message: [UInt8]
    private let timeout: Duration
    private var offset = 0

    init(url: String, from: String, recipients: [String], message: [UInt8], timeout: Duration) {
        self.url = url
        self.from = from
        self.recipients = recipients
        self.message = message
        self.timeout = timeout
    }

    func perform() throws {
        _ = CurlTransport.globalInit
        guard let handle = curl_easy_init() else { throw TransportError(code: -1, message: "curl_easy_init failed") }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>?
        for recipient in recipients { list = curl_slist_append(list, "<\(recipient)>") }
        defer { curl_slist_free_all(list) }
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        _ = ccurl_setopt_string(handle, CURLOPT_URL, url)
        _ = ccurl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(from)>")
        _ = ccurl_setopt_slist(handle, CURLOPT_MAIL_RCPT, list)
        _ = ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds)
        _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(milliseconds, 5_000))
        _ = ccurl_setopt_write_callback(handle, CURLOPT_READFUNCTION, curlMailRead)
        _ = ccurl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(self).toOpaque())
        let result = curl_easy_perform(handle)
        guard result == CURLE_OK else {
            throw TransportError(code: Int(result.rawValue), message: String(cString: curl_easy_strerror(result)))
        }
    }

    fileprivate func read(into buffer: UnsafeMutablePointer<CChar>, room: Int) -> Int {
        let count = min(room, message.count - offset)
        guard count > 0 else { return 0 }
        message.withUnsafeBufferPointer { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}

private func curlMailRead(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let user else { return 0 }
    return Unmanaged<CurlMail>.fromOpaque(user).takeUnretainedValue().read(into: buffer, room: size * count)
}
