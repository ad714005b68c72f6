import Foundation
import NIOCore
import NIOPosix
import RPC
import RPCTesting
import Synchronization
import Testing

/// `RPCClient` sharing one connection among many callers: answers matched by id,
/// a restart mid-flight failed as DESIGN says, cancellation, and a peer that stops
/// reading.
@Suite(.serialized)
struct MultiplexedClientTests {
    struct Echo: Codable, Sendable, Equatable {
        let value: String
    }

    struct Sleep: Codable, Sendable {
        let ms: Int
    }

    struct Slept: Codable, Sendable {
        let sleptMs: Int
        enum CodingKeys: String, CodingKey { case sleptMs = "slept_ms" }
    }

    /// Waits until `condition` holds, or fails the test after `timeout`.
    private func eventually(_ what: String, timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !condition() {
            guard clock.now < deadline else {
                Issue.record("timed out waiting for \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func aThousandConcurrentCallsOnOneConnectionEachGetTheirOwnAnswer() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let echo = try await ServiceProcess.launch("echo-svc", service: "echo", home: home)
        let client = RPCClient(path: home.socket("echo"), token: try home.token("operator"), connections: 1)
        let peak = Peak()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<1_000 {
                group.addTask {
                    if index.isMultiple(of: 2) {
                        let value = "call-\(index)-" + String(repeating: "x", count: index % 97)
                        let answer = try await client.call("echo.echo", Echo(value: value), as: Echo.self)
                        #expect(answer.value == value, "call \(index) got another call's answer")
                    } else {  // answers come back out of order: a sleep of 0…19 ms
                        let slept = try await client.call("echo.sleep", Sleep(ms: index % 20), as: Slept.self)
                        #expect(slept.sleptMs == index % 20, "call \(index) got another call's answer")
                    }
                    peak.raise(client.callsInFlight.sent + client.callsInFlight.queued)
                }
            }
            try await group.waitForAll()
        }
        #expect(peak.value > 1, "the calls should have been in flight together on the one connection")
        #expect(client.callsInFlight == (0, 0))
        await client.close()
        await echo.terminate()
    }

    @Test func aRestartMidFlightFailsCallsAsDeliveredOrNotAndLaterCallsReconnect() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let first = try await ServiceProcess.launch("echo-svc", service: "echo", home: home)
        let client = RPCClient(path: home.socket("echo"), token: try home.token("operator"), connections: 1)
        // Sent, not idempotent: the server may have run them, so they fail ABORTED and are not repeated.
        let written = (0..<20).map { _ in
            Task { try await client.call("echo.sleep", Sleep(ms: 30_000), as: Slept.self, options: .init(timeout: .seconds(60))) }
        }
        // Sent and idempotent: repeated on the restarted service, inside its deadline.
        let repeatable = Task {
            try await client.call("echo.sleep", Sleep(ms: 50), as: Slept.self, options: .init(timeout: .seconds(30), idempotent: true))
        }
        try await eventually("21 calls in flight") { client.callsInFlight.sent == 21 }
        await first.kill9()
        for call in written {
            let error = await #expect(throws: RPCError.self) { try await call.value }
            #expect(error?.status == .aborted && error?.reason == "CONNECTION_LOST", "got \(String(describing: error))")
        }
        // Nothing listens now: a call is not delivered, UNAVAILABLE once its retry window ends.
        let away = await #expect(throws: RPCError.self) {
            try await client.call("echo.echo", Echo(value: "away"), as: Echo.self, options: .init(retryWindow: .milliseconds(200)))
        }
        #expect(away?.status == .unavailable && away?.reason == "UNREACHABLE")
        let second = try await ServiceProcess.launch("echo-svc", service: "echo", home: home)
        #expect(try await repeatable.value.sleptMs == 50)
        #expect(try await client.call("echo.echo", Echo(value: "back"), as: Echo.self) == Echo(value: "back"))
        #expect(client.callsInFlight == (0, 0))
        await client.close()
        await second.terminate()
    }

    @Test func aCancelledCallSendsRPCCancelAndFreesItsSlot() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let server = try await SilentServer.start(socket: home.socket("silent"), reads: true)
        let client = RPCClient(path: home.socket("silent"), connections: 1)
        let call = Task { try await client.call("silent.wait", NoParams(), as: Bool.self) }
        try await eventually("the request at the server") { server.lines.contains { $0.contains("\"silent.wait\"") } }
        #expect(client.callsInFlight == (1, 0))
        call.cancel()
        let error = await #expect(throws: RPCError.self) { try await call.value }
        #expect(error?.status == .cancelled)
        #expect(client.callsInFlight == (0, 0), "a cancelled call must free its slot at once")
        let request = try #require(server.lines.first { $0.contains("\"silent.wait\"") })
        let id = try #require(try JSONValue(parsing: request)["id"])
        try await eventually("rpc.cancel at the server") { server.lines.contains { $0.contains("\"rpc.cancel\"") } }
        let cancel = try JSONValue(parsing: try #require(server.lines.first { $0.contains("\"rpc.cancel\"") }))
        #expect(cancel["params"]?["id"] == id, "rpc.cancel must name the cancelled call")
        #expect(cancel["id"] == nil, "rpc.cancel is a notification")
        await client.close()
        await server.stop()
    }

    @Test func aServerThatDoesNotReadNeverGrowsTheClientsMemory() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let server = try await SilentServer.start(socket: home.socket("silent"), reads: false)
        let client = RPCClient(path: home.socket("silent"), connections: 1)
        let before = residentBytes()
        let payload = Echo(value: String(repeating: "p", count: 1_000_000))
        let peakQueued = Peak()
        let outcomes = Tally()
        // 400 calls of 1 MB: 400 MB, were they all held.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<400 {
                group.addTask {
                    do {
                        _ = try await client.call("silent.echo", payload, as: Echo.self, options: .init(timeout: .seconds(2)))
                        outcomes.count("answered")
                    } catch let error as RPCError {
                        outcomes.count(error.status.name + "/" + error.reason)
                    }
                    peakQueued.raise(client.callsInFlight.queued)
                }
            }
            try await group.waitForAll()
        }
        let grown = residentBytes() - before
        let seen = outcomes.counts
        #expect(seen["answered"] == nil, "nobody answered: \(seen)")
        #expect(seen.values.reduce(0, +) == 400)
        #expect(seen["RESOURCE_EXHAUSTED/CLIENT_QUEUE_FULL", default: 0] > 0, "the queue should have filled: \(seen)")
        #expect(peakQueued.value <= RPCLimits.clientQueuedCalls)
        #expect(grown < 150 << 20, "the client grew by \(grown >> 20) MiB for a peer that does not read")
        #expect(client.callsInFlight == (0, 0))
        await client.close()
        await server.stop()
    }

    /// This process's resident memory, from /proc.
    private func residentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = status.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// The largest value seen, from many tasks.
final class Peak: Sendable {
    private let highest = Atomic<Int>(0)

    var value: Int { highest.load(ordering: .relaxed) }

    /// Raises the value to `candidate` if it is larger.
    func raise(_ candidate: Int) {
        var current = highest.load(ordering: .relaxed)
        while candidate > current {
            let (exchanged, original) = highest.compareExchange(expected: current, desired: candidate, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// Outcomes counted by name, from many tasks.
final class Tally: Sendable {
    private let table = Mutex<[String: Int]>([:])

    var counts: [String: Int] { table.withLock { $0 } }

    func count(_ outcome: String) { table.withLock { $0[outcome, default: 0] += 1 } }
}

/// A peer that never answers: it records the lines it reads, or reads nothing at all.
final class SilentServer: Sendable {
    private let channel: any Channel
    private let box: LineBox

    private init(channel: any Channel, box: LineBox) {
        self.channel = channel
        self.box = box
    }

    /// The lines read so far.
    var lines: [String] { box.lines.withLock { $0 } }

    static func start(socket: String, reads: Bool) async throws -> SilentServer {
        let box = LineBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.autoRead, value: reads)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(LineRecorder(box: box))
                }
            }
            .bind(unixDomainSocketPath: socket).get()
        return SilentServer(channel: channel, box: box)
    }

    func stop() async {
        try? await channel.close()
    }

    final class LineBox: Sendable {
        let lines = Mutex<[String]>([])
    }

    private final class LineRecorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let box: LineBox
        private var partial = ""

        init(box: LineBox) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partial += String(buffer: unwrapInboundIn(data))
            while let newline = partial.firstIndex(of: "\n") {
                let line = String(partial[..<newline])
                partial = String(partial[partial.index(after: newline)...])
                box.lines.withLock { $0.append(line) }
            }
        }
    }
}
