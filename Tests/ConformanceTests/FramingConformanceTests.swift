import Foundation
import RPC
import RPCTesting
import Testing

/// Newline-delimited framing over the real socket: however bytes are cut or
/// joined, whatever they contain, a bad line gets an error and never takes the
/// connection (except an oversize line) or the service down.
@Suite(.sharedService)
struct FramingConformanceTests {
    /// The documented default line limit (Protocols/common.openrpc.json: "at most 1 MiB").
    static let lineLimit = 1 << 20

    @Test(arguments: ConformanceTarget.all)
    func severalRequestsInOneWrite(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let lines = (1...5).map { request("health.check", id: "\($0)") } + [request("rpc.discover", id: "6"), request("nope.nope", id: "7")]
        try await connection.send(lines.joined(separator: "\n") + "\n")
        var seen: [String] = []
        for _ in lines {
            let response = try #require(try await connection.next())
            seen.append(outcomes([response])[0])
        }
        #expect(seen.sorted() == ((1...6).map { "\($0) -> result" } + ["7 -> -32601"]).sorted())
        try await connection.expectNothingPending()
    }

    @Test(arguments: ConformanceTarget.all)
    func oneRequestSplitAcrossManyWrites(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let bytes = Array((request("health.check", id: "\"split\"", meta: "{\"deadline_ms\":10000}") + "\n").utf8)
        for start in stride(from: 0, to: bytes.count, by: 7) {
            try await connection.send(Array(bytes[start..<min(start + 7, bytes.count)]))
            try await Task.sleep(for: .milliseconds(3))
        }
        expectResult(try await connection.next(), id: .string("split"))
    }

    @Test(arguments: ConformanceTarget.all)
    func requestsCutAtEveryByteOfALineAndJoinedWithTheNext(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let first = Array((request("health.check", id: "1") + "\n").utf8)
        let second = Array((request("health.check", id: "2") + "\r\n").utf8)
        // The first write ends inside line 1; the second finishes it and carries all of line 2.
        for cut in [1, first.count / 2, first.count - 1] {
            try await connection.send(Array(first[..<cut]))
            try await connection.send(Array(first[cut...]) + second)
            expectResult(try await connection.next(), id: .int(1))
            expectResult(try await connection.next(), id: .int(2))
        }
    }

    @Test(arguments: ConformanceTarget.all)
    func crlfLineEndings(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        try await connection.send(request("health.check", id: "1") + "\r\n" + request("nope.nope", id: "2") + "\r\n")
        expectResult(try await connection.next(), id: .int(1))
        expectError(try await connection.next(), code: -32601, id: .int(2))
        try await connection.expectNothingPending()
    }

    @Test(arguments: ConformanceTarget.all)
    func blankLinesAreIgnored(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        try await connection.send("\n\r\n   \n\t\r\n\n" + request("health.check", id: "1") + "\n\n\n")
        expectResult(try await connection.next(), id: .int(1))
        try await connection.expectNothingPending()
    }

    @Test(arguments: ConformanceTarget.all)
    func aLineExactlyAtTheLimitIsServed(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let head = #"{"jsonrpc":"2.0","id":"big","method":"health.check","params":{"padding":""#
        let tail = #""}}"#
        let line = head + String(repeating: "x", count: Self.lineLimit - head.utf8.count - tail.utf8.count) + tail
        #expect(line.utf8.count == Self.lineLimit)
        try await connection.send(line + "\n")
        expectResult(try await connection.next(), id: .string("big"))
    }

    /// One byte over: -32600 RESOURCE_EXHAUSTED/LINE_TOO_LONG with id null, then
    /// the connection is closed; other connections, old and new, are served.
    @Test(arguments: ConformanceTarget.all, [false, true])
    func anOversizeLineClosesOnlyItsConnection(target: ConformanceTarget, terminated: Bool) async throws {
        let service = try await sharedService(target)
        let bystander = try await service.connect()
        defer { Task { await bystander.close() } }
        let connection = try await service.connect()
        defer { Task { await connection.close() } }

        let head = #"{"jsonrpc":"2.0","id":"big","method":"health.check","params":{"padding":""#
        let tail = #""}}"#
        let line = head + String(repeating: "x", count: Self.lineLimit + 1 - head.utf8.count - tail.utf8.count) + tail
        try? await connection.send(line + (terminated ? "\n" : ""))  // the service may close before all is written
        let error = expectError(try await connection.next(), code: -32600, reason: "LINE_TOO_LONG", status: "RESOURCE_EXHAUSTED", id: .null)
        #expect(error?["message"]?.stringValue?.contains("\(Self.lineLimit)") == true, "the message names the limit")
        #expect(await connection.isClosedByPeer(), "the connection is closed after an oversize line")
        #expect(try await connection.readLine(timeout: .milliseconds(50)) == nil, "the oversize line is answered once")

        expectResult(try await bystander.next(after: request("health.check", id: "1")), id: .int(1))
        let fresh = try await service.connect()
        defer { Task { await fresh.close() } }
        expectResult(try await fresh.next(after: request("health.check", id: "2")), id: .int(2))
    }

    @Test(arguments: ConformanceTarget.all)
    func aLineOfInvalidUTF8IsAParseError(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let valid = Array(#"{"jsonrpc":"2.0","id":1,"method":"health.check","params":{"x":""#.utf8)
        for bad: [UInt8] in [[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC0, 0xAF]] {
            try await connection.send(valid + bad + Array("\"}}\n".utf8))
            expectError(try await connection.next(), code: -32700, reason: "PARSE_ERROR", id: .null)
        }
        try await connection.send([0xFF, 0xFE, 0x00, 0x01, 0x0A])
        expectError(try await connection.next(), code: -32700, id: .null)
        expectResult(try await connection.next(after: request("health.check", id: "2")), id: .int(2))
    }

    @Test(arguments: ConformanceTarget.all, [
        ("arrays", String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)),
        ("objects", String(repeating: "{\"a\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000)),
        ("in params", #"{"jsonrpc":"2.0","id":1,"method":"health.check","params":{"x":"# + String(repeating: "[", count: 10_000)
            + String(repeating: "]", count: 10_000) + "}}"),
        ("unclosed", String(repeating: "[", count: 100_000)),
    ])
    func deepNestingIsAnErrorNotACrash(target: ConformanceTarget, nesting: (name: String, line: String)) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let response = try #require(try await connection.next(after: nesting.line))
        let code = response["error"]?["code"]?.intValue
        #expect(code == -32700 || code == -32600, "deep nesting gets -32700 or -32600: \(response.jsonText())")
        #expect(response["id"] == .null || response["id"] == .int(1))
        expectResult(try await connection.next(after: request("health.check", id: "2")), id: .int(2))
    }

    @Test(arguments: ConformanceTarget.all, ["42", "\"health.check\"", "null", "true", "-1.5e300"])
    func jsonThatIsNotARequestIsAnInvalidRequest(target: ConformanceTarget, line: String) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        expectError(try await connection.next(after: line), code: -32600, reason: "INVALID_REQUEST", id: .null)
    }

    @Test(arguments: ConformanceTarget.all, [
        (#"{"jsonrpc":"2.0","id":1,"method":"health.check","params":"bar"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"health.check","params":null}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"health.check","params":7}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"health.check","params":[]}"#, -32602),
        (#"{"id":1,"method":"health.check"}"#, -32600),
        (#"{"jsonrpc":"1.0","id":1,"method":"health.check"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":null}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"health.check","params":{"_meta":{"deadline_ms":"soon"}}}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"health.check","params":{"_meta":7}}"#, -32602),
    ])
    func malformedRequestsKeepTheirId(target: ConformanceTarget, malformed: (line: String, code: Int)) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        expectError(try await connection.next(after: malformed.line), code: malformed.code, id: .int(1))
    }

    @Test(arguments: ConformanceTarget.all)
    func aBadMetaNamesTheField(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let error = expectError(
            try await connection.next(after: request("health.check", id: "1", meta: #"{"deadline_ms":"soon"}"#)),
            code: -32602, status: "INVALID_ARGUMENT", id: .int(1))
        #expect(error?["data"]?["field"] == .string("_meta.deadline_ms"))
    }

    @Test(arguments: ConformanceTarget.all)
    func aBatchOfTheMaximumSizeIsServedAndOneMoreIsRefused(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let entries = (0..<RPCLimits.maximumBatchEntries).map { request("health.check", id: "\($0)") }
        let response = try #require(try await connection.next(after: "[" + entries.joined(separator: ",") + "]"))
        guard case .array(let answers) = response else {
            Issue.record("a batch is answered with an array")
            return
        }
        #expect(Set(answers.compactMap { $0["id"]?.intValue }) == Set((0..<Int64(RPCLimits.maximumBatchEntries))))
        let tooMany = "[" + (entries + [request("health.check", id: "\"one more\"")]).joined(separator: ",") + "]"
        expectError(try await connection.next(after: tooMany), code: -32600, reason: "BATCH_TOO_LARGE", id: .null)
    }

    @Test(arguments: ConformanceTarget.all)
    func unknownMethodsAreMethodNotFound(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        for method in ["nope.nope", "", "health", "health.check.more", "HEALTH.CHECK", "\(target.service).", "rpc.discover "] {
            let error = expectError(
                try await connection.next(after: request(method, id: "1")), code: -32601, reason: "METHOD_NOT_FOUND", status: "UNIMPLEMENTED",
                id: .int(1))
            #expect(error?["data"]?["method"] == .string(method))
        }
    }
}
