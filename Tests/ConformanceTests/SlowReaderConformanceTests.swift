import Foundation
import RPC

import RPCTesting
import Testing

/// A client that sends and never reads must not grow a service's memory, nor slow it
/// for everyone else: twenty batches of a thousand `rpc.discover` (the longest answer
/// any service gives, and public), never read, against each service.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct SlowReaderConformanceTests {
    /// What a service may hold while a client reads none of its answers.
    static let maximumResidentMiB = 150
    /// How long another client's health check may take meanwhile.
    static let maximumHealthCheck: Duration = .milliseconds(100)

    @Test(arguments: ConformanceTarget.all)
    func twentyUnreadBatchesKeepTheServiceSmallAndResponsive(target: ConformanceTarget) async throws {
        try await withOwnService(target) { service in
            let batch = "[" + (1...RPCLimits.maximumBatchEntries).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"rpc.discover"}"# }
                .joined(separator: ",") + "]\n"
            let silent = try UnreadingClient(path: service.socket)
            let written = silent.write(String(repeating: batch, count: 20), for: .seconds(2))
            #expect(written > batch.utf8.count, "the first batch is read")
            try await Task.sleep(for: .seconds(1))

            let memory = try #require(MemoryStatus.read(pid: service.process.pid))
            #expect(memory.peakKiB < Self.maximumResidentMiB << 10, "\(target.executable) peaked at \(memory.peakKiB >> 10) MiB")
            let other = try await service.connect()
            defer { Task { await other.close() } }
            // The first exchange on a new connection pays for the connection; time the next ones.
            _ = try await other.roundTrip(#"{"jsonrpc":"2.0","id":0,"method":"health.check"}"#)
            let clock = ContinuousClock()
            var slowest: Duration = .zero
            for id in 1...5 {
                let start = clock.now
                let answer = try await other.roundTrip(#"{"jsonrpc":"2.0","id":\#(id),"method":"health.check"}"#)
                slowest = max(slowest, clock.now - start)
                #expect(answer?["result"]?["status"] == "SERVING")
            }
            #expect(slowest < Self.maximumHealthCheck, "\(target.executable): health.check took \(slowest) beside a client that does not read")
            silent.close()
        }
    }
}

/// A Unix-socket client that writes without ever reading (non-blocking writes, so the
/// test goes on once the service stops reading).
final class UnreadingClient: Sendable {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes + [0])
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw RunDirectoryError("connect to \(path) failed: \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Writes as much of `text` as the service takes within `time`; returns the bytes written.
    func write(_ text: String, for time: Duration) -> Int {
        let bytes = Array(text.utf8)
        let clock = ContinuousClock()
        let deadline = clock.now + time
        var sent = 0
        while sent < bytes.count, clock.now < deadline {
            let count = bytes[sent...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 { sent += count } else { usleep(10_000) }
        }
        return sent
    }

    func close() { _ = Foundation.close(fd) }
}
