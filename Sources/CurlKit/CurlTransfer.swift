import CCurl
import Foundation

/// One libcurl transfer. Lives on one pool thread for its whole life; libcurl
/// calls back into it through an unretained pointer during `perform(handles:)`.
final class CurlTransfer {
    private let request: HTTPRequest
    private let onBody: (@Sendable (Data) -> Void)?
    private let cancelled: CancelFlag
    private var body = Data()
    private var headers: [String: String] = [:]
    private var status = 0
    private var overflowed = false

    init(request: HTTPRequest, onBody: (@Sendable (Data) -> Void)?, cancelled: CancelFlag) {
        self.request = request
        self.onBody = onBody
        self.cancelled = cancelled
    }

    /// Runs the transfer on a handle from `handles` (whose open connection it may reuse) and gives the handle back.
    func perform(handles: CurlHandlePool) throws -> HTTPResponse {
        let pooled = try handles.take()
        defer { handles.give(pooled) }
        let handle = pooled.pointer
        var headerList: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        defer { curl_slist_free_all(headerList) }
        let user = Unmanaged.passUnretained(self).toOpaque()
        let bodyBytes = [UInt8](request.body)
        return try bodyBytes.withUnsafeBufferPointer { payload in
            _ = ccurl_setopt_string(handle, CURLOPT_URL, request.url)
            if let socket = request.unixSocketPath { _ = ccurl_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, socket) }
            _ = ccurl_setopt_long(handle, CURLOPT_POST, 1)
            _ = ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: payload.baseAddress))
            _ = ccurl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(payload.count))
            _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
            _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(request.connectTimeout))
            _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(request.totalTimeout))
            _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
            _ = ccurl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, curlWrite)
            _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, user)
            _ = ccurl_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION, curlHeader)
            _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, user)
            _ = ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
            _ = ccurl_setopt_xferinfo_callback(handle, curlProgress)
            _ = ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, user)
            let result = curl_easy_perform(handle)
            var code = 0
            _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
            guard result == CURLE_OK else {
                if cancelled.isSet { throw CancellationError() }
                if overflowed {
                    throw TransportError(code: Int(result.rawValue), message: "the response exceeded \(CurlTransport.maximumBodyBytes) bytes")
                }
                throw TransportError(code: Int(result.rawValue), message: String(cString: curl_easy_strerror(result)))
            }
            return HTTPResponse(status: code, headers: headers, body: body)
        }
    }

    fileprivate func received(_ chunk: UnsafeBufferPointer<UInt8>) -> Bool {
        if cancelled.isSet { return false }
        if let onBody, (200..<300).contains(status) {
            onBody(Data(chunk))
            return true
        }
        guard body.count + chunk.count <= CurlTransport.maximumBodyBytes else {
            overflowed = true
            return false
        }
        body.append(contentsOf: chunk)
        return true
    }

    fileprivate func receivedHeader(_ line: String) {
        if line.hasPrefix("HTTP/") {
            // A new response (after 100 Continue, say): start over.
            headers.removeAll()
            status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        headers[name] = value
    }

    fileprivate var isCancelled: Bool { cancelled.isSet }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

private func curlWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let data, let user else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    let length = size * count
    let bytes = UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self)
    return transfer.received(UnsafeBufferPointer(start: bytes, count: length)) ? length : 0
}

private func curlHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let data, let user else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    let length = size * count
    let bytes = UnsafeRawBufferPointer(start: data, count: length)
    transfer.receivedHeader(String(decoding: bytes, as: UTF8.self))
    return length
}

private func curlProgress(_ user: UnsafeMutableRawPointer?, _: curl_off_t, _: curl_off_t, _: curl_off_t, _: curl_off_t) -> Int32 {
    guard let user else { return 0 }
    return Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue().isCancelled ? 1 : 0
}
