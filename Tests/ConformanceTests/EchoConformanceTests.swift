import Foundation
import RPC
import RPCTesting
import Testing

/// What only echo-svc can show, because only it has methods that sleep, stream
/// on demand, fail on demand and report the caller: deadlines and cancellation
/// of real work, streams that end, every status on the wire, identities and
/// roles, and a drain with a call in flight.
@Suite(.sharedService)
struct EchoConformanceTests {
    let target = ConformanceTarget.echo

    private func connect() async throws -> (RunningService, RawConnection, String) {
        let service = try await sharedService(target)
        return (service, try await service.connect(), try service.token("operator"))
    }

    @Test func valuesRoundTripExactly() async throws {
        let (_, connection, token) = try await connect()
        defer { Task { await connection.close() } }
        let value = #"{"big":9007199254740993,"neg":-9223372036854775808,"s":"é\n\u0000","f":1.5,"n":null,"a":[true,false,[]],"o":{}}"#
        try await connection.send(request("echo.echo", id: "1", params: "{\"value\":\(value)}", meta: "{\"token\":\"\(token)\"}") + "\n")
        let line = try #require(try await connection.readLine())
        #expect(line.contains("9007199254740993"), "a large integer is not rounded: \(line)")
        let result = expectResult(try JSONValue(parsing: line), id: .int(1))
        #expect(result?["value"] == (try JSONValue(parsing: value)))
    }

    @Test func typedParamsErrorsNameTheField() async throws {
        let (_, connection, token) = try await connect()
        defer { Task { await connection.close() } }
        let meta = "{\"token\":\"\(token)\"}"
        let cases: [(params: String, field: String, reason: String)] = [
            (#"{"a":1}"#, "b", "MISSING_FIELD"),
            (#"{"a":"1","b":2}"#, "a", "INVALID_FIELD"),
            (#"{"a":null,"b":2}"#, "a", "INVALID_FIELD"),
        ]
        for (index, item) in cases.enumerated() {
            let error = expectError(
                try await connection.next(after: request("echo.add", id: "\(index)", params: item.params, meta: meta)),
                code: -32602, reason: item.reason, status: "INVALID_ARGUMENT", id: .int(Int64(index)))
            #expect(error?["data"]?["field"] == .string(item.field), "\(item.params)")
        }
        // A fraction or a number beyond Int64: Foundation loses the field, but the error stays an honest -32602.
        for (index, params) in [#"{"a":1.5,"b":2}"#, #"{"a":18446744073709551615,"b":2}"#].enumerated() {
            let error = expectError(
                try await connection.next(after: request("echo.add", id: "\(index + 5)", params: params, meta: meta)),
                code: -32602, status: "INVALID_ARGUMENT", id: .int(Int64(index + 5)))
            #expect(error?["message"]?.stringValue?.contains("not valid JSON") == false, "\(params)")
        }
        expectError(
            try await connection.next(after: request("echo.add", id: "9", params: #"{"a":9223372036854775807,"b":1}"#, meta: meta)),
            code: -32011, reason: "OVERFLOW", status: "OUT_OF_RANGE", id: .int(9))
        let sum = expectResult(try await connection.next(after: request("echo.add", id: "10", params: #"{"a":-3,"b":5}"#, meta: meta)), id: .int(10))
        #expect(sum == .object(["sum": .int(2)]))
    }

    /// Every gRPC status a handler throws reaches the wire as -32000 - status.
    @Test(arguments: RPCStatus.allCases.filter { $0 != .ok })
    func everyStatusCrossesTheWire(status: RPCStatus) async throws {
        let (_, connection, token) = try await connect()
        defer { Task { await connection.close() } }
        let params = "{\"status\":\"\(status.name)\",\"reason\":\"MY_REASON_2\",\"message\":\"because\"}"
        let error = expectError(
            try await connection.next(after: request("echo.fail", id: "1", params: params, meta: "{\"token\":\"\(token)\"}")),
            code: -32000 - status.rawValue, reason: "MY_REASON_2", status: status.name, id: .int(1))
        #expect(error?["message"] == .string("because"))
    }

    @Test func aShortDeadlineEndsASleepInAboutThatTime() async throws {
        let (_, connection, token) = try await connect()
        defer { Task { await connection.close() } }
        let clock = ContinuousClock()
        let started = clock.now
        let response = try await connection.call(
            request("echo.sleep", id: "1", params: #"{"ms":30000}"#, meta: "{\"token\":\"\(token)\",\"deadline_ms\":200}"), id: .int(1))
        let elapsed = clock.now - started
        expectError(response, code: -32004, reason: "DEADLINE_EXCEEDED", status: "DEADLINE_EXCEEDED", id: .int(1))
        #expect(elapsed >= .milliseconds(150), "answered after \(elapsed), before the 200 ms deadline")
        #expect(elapsed < .seconds(8), "answered after \(elapsed), long after the 200 ms deadline")
    }

    @Test func aSleepWithinItsDeadlineCompletes() async throws {
        let (_, connection, token) = try await connect()
        defer { Task { await connection.close() } }
        let response = try await connection.call(
            request("echo.sleep", id: "1", params: #"{"ms":20}"#, meta: "{\"token\":\"\(token)\",\"deadline_ms\":10000}"), id: .int(1))
        #expect(expectResult(response, id: .int(1)) == .object(["slept_ms": .int(20)]))
    }

    @Test func cancellingASleepingCall() async throws {
        let (_, connection, token) = try await connect()
        defer { Task { await connection.close() } }
        let clock = ContinuousClock()
        let started = clock.now
        try await connection.send(request("echo.sleep", id: "\"s1\"", params: #"{"ms":30000}"#, meta: "{\"token\":\"\(token)\"}") + "\n")
        try await connection.send(request("rpc.cancel", id: "\"c1\"", params: #"{"id":"s1"}"#) + "\n")
        expectError(try await connection.exchange(for: .string("s1")).response, code: -32001, reason: "CANCELLED", status: "CANCELLED", id: .string("s1"))
        #expect(expectResult(try await connection.exchange(for: .string("c1")).response, id: .string("c1")) == .object(["cancelled": .bool(true)]))
        #expect(clock.now - started < .seconds(8), "cancelled, not slept for 30 s")
    }

    @Test(arguments: [0, 1, 5, 100])
    func streamEventsArriveInOrderBeforeTheResult(count: Int) async throws {
        let (service, connection, token) = try await connect()
        defer { Task { await connection.close() } }
        try await connection.send(request("echo.stream", id: "\"st\"", params: "{\"count\":\(count)}", meta: "{\"token\":\"\(token)\"}") + "\n")
        let exchange = try await connection.exchange(for: .string("st"))
        #expect(expectResult(exchange.response, id: .string("st")) == .object(["sent": .int(Int64(count))]))
        #expect(exchange.notifications.count == count)
        for (seq, event) in exchange.notifications.enumerated() {
            WireRules.check(event: event, method: service.eventMethod, requestID: .string("st"))
            #expect(event["params"]?["seq"] == .int(Int64(seq)))
        }
    }

    @Test func aStreamDroppedMidwayLeavesTheServiceHealthy() async throws {
        let (service, connection, token) = try await connect()
        try await connection.send(request("echo.stream", id: "1", params: #"{"count":10000,"interval_ms":5}"#, meta: "{\"token\":\"\(token)\"}") + "\n")
        for _ in 0..<3 { _ = try #require(try await connection.readLine()) }
        await connection.close()
        let fresh = try await service.connect()
        defer { Task { await fresh.close() } }
        try await fresh.send(request("echo.stream", id: "2", params: #"{"count":3}"#, meta: "{\"token\":\"\(token)\"}") + "\n")
        let exchange = try await fresh.exchange(for: .int(2))
        #expect(exchange.notifications.count == 3)
        #expect(expectResult(try await fresh.next(after: request("health.check", id: "3")), id: .int(3))?["status"] == .string("SERVING"))
    }

    @Test func identitiesAndRoles() async throws {
        let (service, connection, _) = try await connect()
        defer { Task { await connection.close() } }
        expectError(try await connection.next(after: request("echo.whoami", id: "1")), code: -32016, reason: "UNAUTHENTICATED", id: .int(1))
        expectError(
            try await connection.next(after: request("echo.whoami", id: "2", meta: #"{"token":"forged"}"#)),
            code: -32016, reason: "UNKNOWN_TOKEN", id: .int(2))
        for identity in TestHome.defaultIdentities {
            let token = try service.token(identity.name)
            let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            let whoami = expectResult(
                try await connection.next(after: request("echo.whoami", id: "3", meta: "{\"token\":\"\(token)\",\"traceparent\":\"\(trace)\"}")),
                id: .int(3))
            #expect(whoami == .object([
                "name": .string(identity.name), "role": .string(identity.role), "trace_id": .string("0af7651916cd43dd8448eb211c80319c"),
            ]))
            let operatorOnly = try #require(try await connection.next(after: request("echo.operator_only", id: "4", meta: "{\"token\":\"\(token)\"}")))
            if identity.role == "operator" {
                #expect(expectResult(operatorOnly, id: .int(4)) == .object(["ok": .bool(true)]))
            } else {
                let error = expectError(operatorOnly, code: -32007, reason: "ROLE_NOT_ALLOWED", status: "PERMISSION_DENIED", id: .int(4))
                #expect(error?["data"]?["role"] == .string(identity.role))
            }
        }
    }

    @Test func aMalformedTraceparentStartsANewTrace() async throws {
        let (_, connection, token) = try await connect()
        defer { Task { await connection.close() } }
        let whoami = expectResult(
            try await connection.next(after: request("echo.whoami", id: "1", meta: "{\"token\":\"\(token)\",\"traceparent\":\"00-ZZ-nope-01\"}")),
            id: .int(1))
        let traceID = try #require(whoami?["trace_id"]?.stringValue)
        #expect(traceID.range(of: "^[0-9a-f]{32}$", options: .regularExpression) != nil)
    }

    /// One connection may have at most 1024 calls in flight; the next is refused.
    @Test func tooManyCallsInFlightOnOneConnection() async throws {
        let (_, connection, token) = try await connect()
        defer { Task { await connection.close() } }
        let meta = "{\"token\":\"\(token)\"}"
        let sleeps = (0..<RPCLimits.maximumInFlightPerConnection).map { request("echo.sleep", id: "\($0)", params: #"{"ms":60000}"#, meta: meta) }
        try await connection.send(sleeps.joined(separator: "\n") + "\n")
        expectError(
            try await connection.call(request("echo.sleep", id: "\"one more\"", params: #"{"ms":1}"#, meta: meta), id: .string("one more")),
            code: -32008, reason: "TOO_MANY_IN_FLIGHT", status: "RESOURCE_EXHAUSTED", id: .string("one more"))
        // Inline calls do not count: the connection is still usable.
        expectResult(try await connection.call(request("health.check", id: "\"h\""), id: .string("h")), id: .string("h"))
    }

    /// While a call holds the drain: health says NOT_SERVING, new work is refused
    /// with DRAINING, and rpc.cancel still works; once nothing is in flight, exit 0.
    @Test func drainingRefusesNewWorkAndReportsNotServing() async throws {
        try await withOwnService(target, arguments: ["--drain-timeout-ms", "60000"]) { service in
            let token = try service.token("operator")
            let sleeper = try await service.connect()
            let other = try await service.connect()
            defer { Task { await sleeper.close(); await other.close() } }
            try await sleeper.send(request("echo.sleep", id: "\"s\"", params: #"{"ms":60000}"#, meta: "{\"token\":\"\(token)\"}") + "\n")
            // Lines of one connection are handled in order: once this is answered, the sleep is in flight.
            expectResult(try await sleeper.call(request("health.check", id: "0"), id: .int(0)), id: .int(0))
            try await other.send(request("health.watch", id: "\"w\"") + "\n")
            _ = try #require(try await other.readLine())

            let exit = Task { await service.process.terminate(timeout: .seconds(30)) }
            let watchEnd = try await other.exchange(for: .string("w"))
            #expect(watchEnd.notifications.last?["params"]?["status"] == .string("NOT_SERVING"))
            let health = expectResult(try await other.next(after: request("health.check", id: "1")), id: .int(1))
            #expect(health?["status"] == .string("NOT_SERVING"), "health.check says NOT_SERVING while draining")
            expectError(
                try await other.next(after: request("echo.add", id: "2", params: #"{"a":1,"b":2}"#, meta: "{\"token\":\"\(token)\"}")),
                code: -32014, reason: "DRAINING", status: "UNAVAILABLE", id: .int(2))
            #expect(service.process.process.isRunning, "the sleep still holds the drain")

            try await sleeper.send(request("rpc.cancel", params: #"{"id":"s"}"#) + "\n")
            expectError(try await sleeper.exchange(for: .string("s")).response, code: -32001, id: .string("s"))
            #expect(await exit.value == 0)
        }
    }

    /// SIGTERM with a call in flight: the call finishes with its result, then the
    /// process exits 0.
    @Test func gracefulDrainLetsACallInFlightFinish() async throws {
        try await withOwnService(target) { service in
            let sleeper = try await service.connect()
            let watcher = try await service.connect()
            defer { Task { await sleeper.close(); await watcher.close() } }
            try await watcher.send(request("health.watch", id: "\"w\"") + "\n")
            _ = try #require(try await watcher.readLine())
            try await sleeper.send(request("echo.sleep", id: "\"s\"", params: #"{"ms":3000}"#, meta: "{\"token\":\"\(try service.token("operator"))\"}") + "\n")
            expectResult(try await sleeper.call(request("health.check", id: "0"), id: .int(0)), id: .int(0))

            let exit = Task { await service.process.terminate(timeout: .seconds(30)) }
            let watchEnd = try await watcher.exchange(for: .string("w"))
            #expect(watchEnd.notifications.last?["params"]?["status"] == .string("NOT_SERVING"), "draining has begun")
            let slept = try await sleeper.exchange(for: .string("s"))
            #expect(expectResult(slept.response, id: .string("s")) == .object(["slept_ms": .int(3000)]), "the call in flight finishes")
            #expect(await exit.value == 0)
            #expect(await sleeper.isClosedByPeer())
        }
    }

    /// A call longer than the drain timeout is abandoned, and the exit is still clean.
    @Test func theDrainIsBounded() async throws {
        try await withOwnService(target, arguments: ["--drain-timeout-ms", "300"]) { service in
            let connection = try await service.connect()
            defer { Task { await connection.close() } }
            try await connection.send(request("echo.sleep", id: "1", params: #"{"ms":60000}"#, meta: "{\"token\":\"\(try service.token("operator"))\"}") + "\n")
            expectResult(try await connection.next(after: request("health.check", id: "0")), id: .int(0))
            let clock = ContinuousClock()
            let started = clock.now
            #expect(await service.process.terminate(timeout: .seconds(20)) == 0)
            #expect(clock.now - started < .seconds(15), "the drain took \(clock.now - started) with a 300 ms bound")
            #expect(await connection.isClosedByPeer())
        }
    }
}
