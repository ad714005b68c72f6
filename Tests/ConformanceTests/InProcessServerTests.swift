import Foundation
import Logging
import RPC
import RPCTesting
import Synchronization
import Testing

/// The client and the server together, in this process: what a black-box test
/// cannot see, such as whether the server's handler really stopped.
struct InProcessServerTests {
    static let contract = #"{"openrpc":"1.3.2","info":{"title":"t","version":"0"},"methods":[{"name":"t.wait","params":[],"result":{"name":"r","schema":{}}},{"name":"t.unavailable","params":[],"result":{"name":"r","schema":{}}}]}"#

    /// What the handler saw: started, then cancelled (or finished).
    final class Probe: Sendable {
        let events = Mutex<[String]>([])
        func record(_ event: String) { events.withLock { $0.append(event) } }
        var seen: [String] { events.withLock { $0 } }
    }

    private func withServer(_ body: (TestHome, Probe) async throws -> Void) async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let probe = Probe()
        let server = RPCServer(
            description: try RPCServiceDescription(name: "t", openRPC: Array(Self.contract.utf8)),
            configuration: RPCServerConfiguration(socketPath: home.socket("t")), identities: nil,
            logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })
        ) { router in
            router.register("t.wait", params: NoParams.self, options: .init(access: .public)) { _, _ -> Bool in
                probe.record("started")
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    probe.record("cancelled")
                    throw error
                }
                probe.record("finished")
                return true
            }
            // A handler that did part of its work, then met a downstream service that was away.
            router.register("t.unavailable", params: NoParams.self, options: .init(access: .public)) { _, _ -> Bool in
                probe.record("called")
                throw RPCError.unavailable("a downstream service is restarting", reason: "DOWNSTREAM_UNAVAILABLE")
            }
        }
        try await server.start()
        do {
            try await body(home, probe)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    private func waitFor(_ event: String, in probe: Probe) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while !probe.seen.contains(event), clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
    }

    /// Cancelling the task that waits for a call cancels the call on the server
    /// (the client sends `rpc.cancel` as a notification).
    @Test func cancellingTheCallersTaskStopsTheHandler() async throws {
        try await withServer { home, probe in
            let client = RPCClient(path: home.socket("t"))
            let call = Task { try await client.call("t.wait", NoParams(), as: Bool.self) }
            try await waitFor("started", in: probe)
            call.cancel()
            let error = await #expect(throws: RPCError.self) { try await call.value }
            #expect(error?.status == .cancelled)
            try await waitFor("cancelled", in: probe)
            #expect(probe.seen == ["started", "cancelled"], "the server's handler must be cancelled too")
            await client.close()
        }
    }

    /// UNAVAILABLE from a handler (not the core's DRAINING) may follow work already
    /// done: a call that is not idempotent is not sent again; an idempotent one is.
    @Test func aHandlersUnavailableIsRetriedOnlyForIdempotentCalls() async throws {
        try await withServer { home, probe in
            let client = RPCClient(path: home.socket("t"))
            let once = await #expect(throws: RPCError.self) {
                try await client.call("t.unavailable", NoParams(), as: Bool.self, options: .init(timeout: .seconds(1)))
            }
            #expect(once?.reason == "DOWNSTREAM_UNAVAILABLE")
            #expect(probe.seen == ["called"], "a call that may have done work is sent once")
            _ = await #expect(throws: RPCError.self) {
                try await client.call("t.unavailable", NoParams(), as: Bool.self, options: .init(timeout: .milliseconds(400), idempotent: true))
            }
            #expect(probe.seen.count > 2, "an idempotent call is retried within its deadline: \(probe.seen.count - 1) attempts")
            await client.close()
        }
    }

    /// A client's deadline travels as `deadline_ms`: the server stops the work.
    @Test func theCallersDeadlineStopsTheHandler() async throws {
        try await withServer { home, probe in
            let client = RPCClient(path: home.socket("t"))
            let error = await #expect(throws: RPCError.self) {
                try await client.call("t.wait", NoParams(), as: Bool.self, options: .init(timeout: .milliseconds(200)))
            }
            #expect(error?.status == .deadlineExceeded)
            try await waitFor("cancelled", in: probe)
            #expect(probe.seen == ["started", "cancelled"])
            await client.close()
        }
    }
}
