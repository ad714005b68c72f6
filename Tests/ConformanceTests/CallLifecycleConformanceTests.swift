import Foundation
import RPC
import RPCTesting
import Testing

/// Deadlines, cancellation and streaming, on what every service serves:
/// `health.check` (unary) and `health.watch` (streaming, never ends by itself
/// while the service is serving).
@Suite(.sharedService)
struct CallLifecycleConformanceTests {
    /// No budget left: DEADLINE_EXCEEDED without starting the call. `health.watch`
    /// proves "at once": started, it would stream and never end by itself.
    @Test(arguments: ConformanceTarget.all, [0, -1, -86_400_000])
    func noBudgetLeftIsDeadlineExceededAtOnce(target: ConformanceTarget, budget: Int) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        for method in ["health.check", "health.watch", "rpc.discover"] {
            expectError(
                try await connection.next(after: request(method, id: "1", meta: "{\"deadline_ms\":\(budget)}")),
                code: -32004, reason: "DEADLINE_EXCEEDED", status: "DEADLINE_EXCEEDED", id: .int(1))
        }
        try await connection.expectNothingPending()
    }

    @Test(arguments: ConformanceTarget.all)
    func aStreamEndsAtItsDeadline(target: ConformanceTarget) async throws {
        let service = try await sharedService(target)
        let connection = try await service.connect()
        defer { Task { await connection.close() } }
        let clock = ContinuousClock()
        let started = clock.now
        try await connection.send(request("health.watch", id: "\"w\"", meta: "{\"deadline_ms\":300}") + "\n")
        let exchange = try await connection.exchange(for: .string("w"))
        let elapsed = clock.now - started
        expectError(exchange.response, code: -32004, reason: "DEADLINE_EXCEEDED", id: .string("w"))
        #expect(elapsed >= .milliseconds(250), "ended after \(elapsed), before its 300 ms deadline")
        #expect(elapsed < .seconds(8), "ended after \(elapsed), long after its 300 ms deadline")
        let first = try #require(exchange.notifications.first, "health.watch sends the current status first")
        WireRules.check(event: first, method: service.eventMethod, requestID: .string("w"))
        #expect(first["params"]?["status"] == .string("SERVING"))
    }

    /// Events carry `request_id` with the call's own id, of the same JSON type,
    /// and come before the call's response.
    @Test(arguments: ConformanceTarget.all, ["\"watch-1\"", "9007199254740993", "0", "-5"])
    func streamEventsNameTheirCallAndPrecedeTheResult(target: ConformanceTarget, id: String) async throws {
        let service = try await sharedService(target)
        let connection = try await service.connect()
        defer { Task { await connection.close() } }
        let requestID = try JSONValue(parsing: id)
        try await connection.send(request("health.watch", id: id) + "\n")
        let line = try #require(try await connection.readLine(), "health.watch sends the current status at once")
        #expect(line.contains("\"request_id\":\(id)"), "request_id is the id exactly as sent: \(line)")
        let event = try JSONValue(parsing: line)
        WireRules.check(event: event, method: service.eventMethod, requestID: requestID)
        #expect(event["params"]?["status"] == .string("SERVING"))

        try await connection.send(request("rpc.cancel", id: "\"c\"", params: "{\"id\":\(id)}") + "\n")
        let cancelled = try await connection.exchange(for: requestID)
        expectError(cancelled.response, code: -32001, reason: "CANCELLED", status: "CANCELLED", id: requestID)
        let ack = try await connection.exchange(for: .string("c"))
        #expect(expectResult(ack.response, id: .string("c")) == .object(["cancelled": .bool(true)]))
    }

    @Test(arguments: ConformanceTarget.all)
    func cancellingTwiceOrNothing(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        try await connection.send(request("health.watch", id: "1") + "\n")
        _ = try #require(try await connection.readLine())
        expectError(try await connection.call(request("rpc.cancel", id: "2", params: "{\"id\":1}"), id: .int(1)), code: -32001, id: .int(1))
        #expect(expectResult(try await connection.exchange(for: .int(2)).response, id: .int(2)) == .object(["cancelled": .bool(true)]))
        for params in ["{\"id\":1}", "{\"id\":\"1\"}", "{\"id\":null}", "{\"id\":12345}"] {
            let result = expectResult(try await connection.call(request("rpc.cancel", id: "3", params: params), id: .int(3)), id: .int(3))
            #expect(result == .object(["cancelled": .bool(false)]), "nothing in flight with \(params)")
        }
    }

    @Test(arguments: ConformanceTarget.all)
    func cancelAsANotification(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        try await connection.send(request("health.watch", id: "\"w\"") + "\n")
        _ = try #require(try await connection.readLine())
        try await connection.send(request("rpc.cancel", params: "{\"id\":\"w\"}") + "\n")
        expectError(try await connection.exchange(for: .string("w")).response, code: -32001, id: .string("w"))
        try await connection.expectNothingPending()
    }

    /// Only the connection that made a call can cancel it.
    @Test(arguments: ConformanceTarget.all)
    func anotherConnectionCannotCancel(target: ConformanceTarget) async throws {
        let service = try await sharedService(target)
        let owner = try await service.connect()
        defer { Task { await owner.close() } }
        let stranger = try await service.connect()
        defer { Task { await stranger.close() } }
        try await owner.send(request("health.watch", id: "1") + "\n")
        _ = try #require(try await owner.readLine())
        let result = expectResult(try await stranger.call(request("rpc.cancel", id: "9", params: "{\"id\":1}"), id: .int(9)), id: .int(9))
        #expect(result == .object(["cancelled": .bool(false)]))
        #expect(try await owner.readLine(timeout: .milliseconds(100)) == nil, "the watch goes on")
        expectError(try await owner.call(request("rpc.cancel", params: "{\"id\":1}"), id: .int(1)), code: -32001, id: .int(1))
    }

    @Test(arguments: ConformanceTarget.all)
    func cancelNeedsAnId(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let error = expectError(
            try await connection.next(after: request("rpc.cancel", id: "1", params: "{}")), code: -32602, reason: "MISSING_FIELD", id: .int(1))
        #expect(error?["data"]?["field"] == .string("id"))
        expectError(try await connection.next(after: request("rpc.cancel", id: "2", params: "{\"id\":{}}")), code: -32602, id: .int(2))
    }

    /// A stream whose caller goes away ends; the service stays healthy.
    @Test(arguments: ConformanceTarget.all)
    func aStreamEndsWhenTheConnectionDrops(target: ConformanceTarget) async throws {
        let service = try await sharedService(target)
        for round in 0..<20 {
            let connection = try await service.connect()
            try await connection.send(request("health.watch", id: "\(round)") + "\n")
            _ = try #require(try await connection.readLine())
            await connection.close()
        }
        let connection = try await service.connect()
        defer { Task { await connection.close() } }
        let health = expectResult(try await connection.next(after: request("health.check", id: "1")), id: .int(1))
        #expect(health?["status"] == .string("SERVING"))
    }

    @Test(arguments: ConformanceTarget.all)
    func callsInFlightDoNotBlockOtherCalls(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        try await connection.send((1...10).map { request("health.watch", id: "\"w\($0)\"") }.joined(separator: "\n") + "\n")
        let answer = try await connection.call(request("health.check", id: "\"h\""), id: .string("h"))
        expectResult(answer, id: .string("h"))
    }
}
