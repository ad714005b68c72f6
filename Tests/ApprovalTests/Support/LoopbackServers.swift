import Foundation
import Synchronization

/// A blocking TCP server on 127.0.0.1 that serves one connection at a time on
/// its own thread: enough for a test webhook receiver or SMTP sink.
final class LoopbackServer: Sendable {
    let port: UInt16
    private let socket: Int32

    private init(port: UInt16, socket: Int32) {
        self.port = port
        self.socket = socket
    }

    /// Listens on `port` (0: any free port) and calls `handle` for each connection.
    static func start(port: UInt16 = 0, handle: @escaping @Sendable (LineReader) -> Void) throws -> LoopbackServer {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let server = LoopbackServer(port: UInt16(bigEndian: address.sin_port), socket: fd)
        let thread = Thread {
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { return }
                handle(LineReader(fd: connection))
                close(connection)
            }
        }
        thread.start()
        return server
    }

    /// Stops listening (connections are refused from now on).
    func stop() {
        shutdown(socket, Int32(SHUT_RDWR))
        close(socket)
    }

    /// A port that was free a moment ago and has nothing listening on it now.
    static func reservePort() throws -> UInt16 {
        let server = try start { _ in }
        server.stop()
        return server.port
    }
}

/// Reads CRLF lines and exact byte counts from a connected socket.
///
/// `@unchecked Sendable` is safe here: each reader is made for one accepted connection
/// on the server's one accept thread and used only there, by that connection's handler,
/// before the next connection is accepted; `buffer` is never touched from two threads.
final class LineReader: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &chunk, chunk.count, 0)
        guard count > 0 else { return false }
        buffer += chunk[0..<count]
        return true
    }

    /// The next line without its CRLF; nil at end of stream.
    func line() -> String? {
        while true {
            if let index = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<index])
                buffer.removeFirst(index + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard fill() else { return nil }
        }
    }

    func bytes(_ count: Int) -> [UInt8]? {
        while buffer.count < count { guard fill() else { return nil } }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

/// An HTTP request the test receiver got.
struct ReceivedRequest: Sendable {
    let headers: [String: String]
    let body: [UInt8]
}

/// A webhook receiver: records every POST and answers 200.
final class WebhookReceiver: Sendable {
    let server: LoopbackServer
    private let box: Box

    private final class Box: Sendable { let requests = Mutex<[ReceivedRequest]>([]) }

    private init(server: LoopbackServer, box: Box) {
        self.server = server
        self.box = box
    }

    static func start(port: UInt16 = 0) throws -> WebhookReceiver {
        let box = Box()
        let server = try LoopbackServer.start(port: port) { reader in
            var headers: [String: String] = [:]
            guard reader.line() != nil else { return }
            while let line = reader.line(), !line.isEmpty {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let body = reader.bytes(Int(headers["content-length"] ?? "0") ?? 0) ?? []
            box.requests.withLock { $0.append(ReceivedRequest(headers: headers, body: body)) }
            reader.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        }
        return WebhookReceiver(server: server, box: box)
    }

    var requests: [ReceivedRequest] { box.requests.withLock { $0 } }
}

/// An SMTP sink: accepts every message and records its DATA.
final class SMTPSink: Sendable {
    let server: LoopbackServer
    private let box: Box

    private final class Box: Sendable { let messages = Mutex<[String]>([]) }

    private init(server: LoopbackServer, box: Box) {
        self.server = server
        self.box = box
    }

    static func start() throws -> SMTPSink {
        let box = Box()
        let server = try LoopbackServer.start { reader in
            reader.write("220 sink ESMTP\r\n")
            while let line = reader.line() {
                let command = line.prefix(4).uppercased()
                switch command {
                case "DATA":
                    reader.write("354 end with .\r\n")
                    var lines: [String] = []
                    while let body = reader.line(), body != "." { lines.append(body) }
                    box.messages.withLock { $0.append(lines.joined(separator: "\n")) }
                    reader.write("250 queued\r\n")
                case "QUIT":
                    reader.write("221 bye\r\n")
                    return
                default:
                    reader.write("250 ok\r\n")
                }
            }
        }
        return SMTPSink(server: server, box: box)
    }

    var messages: [String] { box.messages.withLock { $0 } }
}
