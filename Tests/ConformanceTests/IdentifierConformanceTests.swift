import Foundation
import RPC
import RPCTesting
import Testing

/// Request ids come back exactly as sent: compared as text for numbers, so an
/// integer above 2^53 that a Double would round is caught.
@Suite(.sharedService)
struct IdentifierConformanceTests {
    /// Ids and how they must appear in the response line.
    static let numericIDs: [(sent: String, echoed: String)] = [
        ("9007199254740993", "9007199254740993"),  // 2^53 + 1
        ("9223372036854775807", "9223372036854775807"),  // Int64.max
        ("-9223372036854775808", "-9223372036854775808"),  // Int64.min
        ("18446744073709551615", "18446744073709551615"),  // UInt64.max
        ("0", "0"),
        ("-1", "-1"),
        ("1.5", "1.5"),
    ]

    @Test(arguments: ConformanceTarget.all, numericIDs)
    func numericIdsAreEchoedExactly(target: ConformanceTarget, id: (sent: String, echoed: String)) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        for line in [request("health.check", id: id.sent), request("nope.nope", id: id.sent)] {
            try await connection.send(line + "\n")
            let text = try #require(try await connection.readLine())
            #expect(text.range(of: "\"id\":\(NSRegularExpression.escapedPattern(for: id.echoed))[,}]", options: .regularExpression) != nil,
                    "the id must be written back as \(id.echoed): \(text)")
            WireRules.check(response: try JSONValue(parsing: text))
        }
    }

    @Test(arguments: ConformanceTarget.all, [
        "abc", "", "9007199254740993", "é and \u{1F600} and \"quotes\" and \\ and \n", String(repeating: "x", count: 10_000),
    ])
    func stringIdsAreEchoedExactly(target: ConformanceTarget, id: String) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let idText = JSONValue.string(id).jsonText()
        let response = try await connection.call(request("health.check", id: idText), id: .string(id))
        #expect(response["id"] == .string(id))
        #expect(response["id"] != .int(9_007_199_254_740_993), "a numeric-looking string stays a string")
    }

    @Test(arguments: ConformanceTarget.all)
    func aNullIdIsARequestAndIsAnswered(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        try await connection.send(request("health.check", id: "null") + "\n")
        let line = try #require(try await connection.readLine())
        #expect(line.contains("\"id\":null"), "\(line)")
        expectResult(try JSONValue(parsing: line), id: .null)
    }

    @Test(arguments: ConformanceTarget.all, ["true", "false", "{}", "{\"a\":1}", "[]", "[1]"])
    func idsOfOtherTypesAreInvalidRequests(target: ConformanceTarget, id: String) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        expectError(try await connection.next(after: request("health.check", id: id)), code: -32600, status: "INVALID_ARGUMENT", id: .null)
    }

    @Test(arguments: ConformanceTarget.all)
    func theSameIdTwiceIsAnsweredTwice(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        try await connection.send(request("health.check", id: "7") + "\n" + request("health.check", id: "7") + "\n")
        expectResult(try await connection.next(), id: .int(7))
        expectResult(try await connection.next(), id: .int(7))
    }
}
