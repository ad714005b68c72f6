import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import RPC

/// One HTTP answer as the tests read it.
struct HTTPAnswer: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: String

    var json: JSONValue { (try? JSONValue(parsing: body)) ?? .null }
    /// `error.reason` of a JSON error.
    var reason: String? { json["error"]?["reason"]?.stringValue }
    var events: [SSE] { SSE.parse(body) }
}

extension [SSE] {
    /// The last `approval_required` of a stream: what the run waits for.
    var required: SSE? { last { $0.name == "approval_required" } }
}

/// One parsed Server-Sent Event.
struct SSE: Sendable {
    let id: Int?
    let name: String
    let data: JSONValue

    /// Parses a whole `text/event-stream` body.
    static func parse(_ text: String) -> [SSE] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var id: Int?, name = "message", data = ""
            for line in block.split(separator: "\n", omittingEmptySubsequences: true) {
                guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else { continue }
                let key = line[..<colon]
                var value = line[line.index(after: colon)...]
                if value.hasPrefix(" ") { value = value.dropFirst() }
                switch key {
                case "id": id = Int(value)
                case "event": name = String(value)
                case "data": data += value
                default: break
                }
            }
            guard !data.isEmpty else { return nil }
            return SSE(id: id, name: name, data: (try? JSONValue(parsing: data)) ?? .null)
        }
    }
}

/// A small HTTP/1.1 client over NIOHTTP1 with a cookie jar: one connection per
/// request, and streams that can be cut short (a client that goes away).
final class HTTPTestClient: @unchecked Sendable {
    // @unchecked: the jar is guarded by `lock`; everything else is immutable.
    let port: Int
    private let lock = NSLock()
    private var cookies: [String: String] = [:]
    /// The CSRF token of the signed-in session.
    var csrf: String? {
        get { lock.withLock { storedCSRF } }
        set { lock.withLock { storedCSRF = newValue } }
    }
    private var storedCSRF: String?

    init(port: Int) { self.port = port }

    var base: String { "http://127.0.0.1:\(port)" }

    func cookie(_ name: String) -> String? { lock.withLock { cookies[name] } }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPAnswer {
        try await send("GET", path, headers: headers)
    }

    /// A JSON POST carrying the session's CSRF token (unless `csrf: false`).
    func post(_ path: String, json: JSONValue, csrf: Bool = true, headers: [(String, String)] = []) async throws -> HTTPAnswer {
        var all = headers + [("Content-Type", "application/json")]
        if csrf, let token = self.csrf { all.append(("X-CSRF-Token", token)) }
        return try await send("POST", path, headers: all, body: json.jsonText())
    }

    /// Signs in as an approver; keeps the session cookie and CSRF token.
    @discardableResult
    func signIn(token: String) async throws -> HTTPAnswer {
        let answer = try await post("/login", json: ["token": .string(token)], csrf: false)
        csrf = answer.json["csrf_token"]?.stringValue
        return answer
    }

    /// Sends a request; with `stopAfter`, closes the connection once the body
    /// read so far holds that many events.
    func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: String? = nil, stopAfter events: Int? = nil) async throws -> HTTPAnswer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: "127.0.0.1:\(port)")
        head.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        let jar = lock.withLock { cookies }
        if !jar.isEmpty { head.headers.add(name: "Cookie", value: jar.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
        if let body { head.headers.add(name: "Content-Length", value: "\(body.utf8.count)") }
        let answer = try await channel.executeThenClose { inbound, outbound -> HTTPAnswer in
            // A server may answer before reading the whole request (413 for a body over its
            // limit) and close: the rest of the write then fails, but the answer is there to read.
            var writeFailure: (any Error)?
            do {
                try await outbound.write(.head(head))
                if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body)))) }
                try await outbound.write(.end(nil))
            } catch {
                writeFailure = error
            }
            var status = 0
            var responseHeaders = HTTPHeaders()
            var text = ""
            for try await part in inbound {
                switch part {
                case .head(let response):
                    status = Int(response.status.code)
                    responseHeaders = response.headers
                case .body(let buffer):
                    text += String(buffer: buffer)
                    if let events, SSE.parse(text).count >= events { return HTTPAnswer(status: status, headers: responseHeaders, body: text) }
                case .end:
                    return HTTPAnswer(status: status, headers: responseHeaders, body: text)
                }
            }
            if status == 0, let writeFailure { throw writeFailure }
            return HTTPAnswer(status: status, headers: responseHeaders, body: text)
        }
        keepCookies(answer.headers)
        return answer
    }

    /// A form POST (the link confirmation page's).
    func postForm(_ path: String, _ fields: [String: String], headers: [(String, String)] = []) async throws -> HTTPAnswer {
        let body = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return try await send("POST", path, headers: headers + [("Content-Type", "application/x-www-form-urlencoded")], body: body)
    }

    func forgetCookies() { lock.withLock { cookies = [:] } }

    private func keepCookies(_ headers: HTTPHeaders) {
        for line in headers["Set-Cookie"] {
            guard let pair = line.split(separator: ";").first, let equals = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<equals]).trimmingCharacters(in: .whitespaces)
            let value = String(pair[pair.index(after: equals)...])
            lock.withLock { if value.isEmpty { cookies[name] = nil } else { cookies[name] = value } }
        }
    }
}
