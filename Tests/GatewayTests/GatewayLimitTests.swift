import Foundation
import RPC
import RPCTesting
import Testing

/// What the gateway does with connections that hold on without finishing a request,
/// and with requests it does not serve: one gateway alone (no services needed), with
/// short timeouts, spoken to over raw TCP.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct GatewayLimitTests {
    /// A running gateway with an 800 ms idle (and header) timeout and a 300 ms body timeout.
    final class Gateway: Sendable {
        let home: TestHome
        let process: ServiceProcess
        let port: Int

        init() async throws {
            home = try TestHome.make()
            let portFile = home.directory.home.appendingPathComponent("gateway-port").path
            process = try await ServiceProcess.launch("gateway", service: "gateway", home: home, arguments: [
                "--port", "0", "--port-file", portFile, "--idle-timeout-ms", "800", "--body-timeout-ms", "300",
            ])
            var port = 0
            for _ in 0..<200 {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    port = value
                    break
                }
                try await Task.sleep(for: .milliseconds(25))
            }
            self.port = port
        }

        func stop() async {
            await process.terminate()
            home.remove()
        }

        /// Runs `body` with a gateway and stops it before returning, thrown or not.
        static func with(_ body: (Gateway) async throws -> Void) async throws {
            let gateway = try await Gateway()
            do {
                try await body(gateway)
            } catch {
                await gateway.stop()
                throw error
            }
            await gateway.stop()
        }
    }

    /// A blocking TCP connection to the gateway.
    final class Connection {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw RunDirectoryError("connect failed: \(String(cString: strerror(errno)))") }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        func send(_ text: String) {
            _ = text.withCString { Foundation.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        }

        /// Everything the gateway sends until it closes the connection (or 5 s pass), and how long that took.
        func readUntilClosed() -> (text: String, closed: Bool, after: Duration) {
            let clock = ContinuousClock()
            let start = clock.now
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 {
                    bytes += buffer[0..<count]
                    continue
                }
                return (String(decoding: bytes, as: UTF8.self), count == 0, clock.now - start)
            }
        }
    }

    @Test func anIdleConnectionIsClosed() async throws {
        try await Gateway.with { gateway in
            let idle = try Connection(port: gateway.port)
            let result = idle.readUntilClosed()
            #expect(result.closed && result.text.isEmpty, "an idle connection stays open: \(result)")
            #expect(result.after < .seconds(3))
        }
    }

    @Test func aHalfSentRequestHeadIsClosed() async throws {
        try await Gateway.with { gateway in
            let slow = try Connection(port: gateway.port)
            slow.send("GET /session HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            let result = slow.readUntilClosed()
            #expect(result.closed, "a connection with half a request head stays open: \(result)")
            #expect(result.after < .seconds(3))
        }
    }

    @Test func aBodyThatDoesNotArriveIsAnsweredAndClosed() async throws {
        try await Gateway.with { gateway in
            let slow = try Connection(port: gateway.port)
            slow.send("POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tok")
            let result = slow.readUntilClosed()
            #expect(result.text.hasPrefix("HTTP/1.1 408"), "\(result.text)")
            #expect(result.text.contains("BODY_TIMEOUT"))
            #expect(result.closed && result.after < .seconds(3))
        }
    }

    @Test func unknownPathsAre404AndWrongMethods405() async throws {
        try await Gateway.with { gateway in
            let client = HTTPTestClient(port: gateway.port)
            let missing = try await client.get("/nothing/here")
            #expect(missing.status == 404 && missing.reason == "NO_SUCH_PATH", "\(missing.status) \(missing.body)")
            let getChat = try await client.get("/chat")
            #expect(getChat.status == 405 && getChat.reason == "METHOD_NOT_ALLOWED", "\(getChat.status) \(getChat.body)")
            #expect(getChat.headers["Allow"].first == "POST")
            let deleteRun = try await client.send("DELETE", "/runs/run_1")
            #expect(deleteRun.status == 405 && deleteRun.headers["Allow"].first == "GET")
            let postLink = try await client.send("PUT", "/a/v1.x.y")
            #expect(postLink.status == 405 && postLink.headers["Allow"].first == "GET, POST")
        }
    }
}
