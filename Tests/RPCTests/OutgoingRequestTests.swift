import Foundation
import Testing
@testable import RPC

/// How the client writes a request: params fields and `_meta` in one object.
struct OutgoingRequestTests {
    struct Transfer: Codable, Sendable, Equatable {
        let from: String
        let amount: Int64
    }

    private func encode(_ request: OutgoingRequest<some Encodable>) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(request))
    }

    static let meta = RequestMeta(
        deadlineMs: 1500, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", token: "tok")

    @Test func paramsAndMetaAreMergedIntoOneObject() throws {
        let request = try encode(OutgoingRequest(id: 42, method: "ledger.transfer", params: Transfer(from: "a", amount: 5), meta: Self.meta))
        #expect(request == .object([
            "jsonrpc": .string("2.0"),
            "id": .int(42),
            "method": .string("ledger.transfer"),
            "params": .object([
                "from": .string("a"),
                "amount": .int(5),
                "_meta": .object([
                    "deadline_ms": .int(1500),
                    "traceparent": .string("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                    "token": .string("tok"),
                ]),
            ]),
        ]))
    }

    @Test func emptyMetaIsLeftOut() throws {
        let request = try encode(OutgoingRequest(id: 1, method: "x.y", params: Transfer(from: "a", amount: 1), meta: RequestMeta()))
        #expect(request["params"] == .object(["from": .string("a"), "amount": .int(1)]))
    }

    @Test func onlyTheMetaFieldsThatAreSetAreSent() throws {
        let request = try encode(OutgoingRequest(id: 1, method: "x.y", params: NoParams(), meta: RequestMeta(deadlineMs: 0)))
        #expect(request["params"] == .object(["_meta": .object(["deadline_ms": .int(0)])]))
    }

    @Test func aNotificationHasNoID() throws {
        let request = try encode(OutgoingRequest(id: nil, method: "rpc.cancel", params: ["id": 7], meta: RequestMeta()))
        guard case .object(let fields) = request else {
            Issue.record("a request is an object")
            return
        }
        #expect(fields["id"] == nil)
        #expect(Set(fields.keys) == ["jsonrpc", "method", "params"])
    }

    @Test func theServerReadsWhatTheClientWrites() throws {
        var builder = RPCRouterBuilder(service: "ledger")
        builder.registerInline("ledger.transfer", params: Transfer.self) { params, _ in params.amount }
        let decoder = JSONDecoder()
        decoder.userInfo[.rpcRouter] = builder.build()
        var line = try JSONEncoder().encode(OutgoingRequest(
            id: 9_007_199_254_740_993, method: "ledger.transfer", params: Transfer(from: "acc-1", amount: 250), meta: Self.meta))
        line.append(UInt8(ascii: "\n"))
        guard case .single(.call(let call)) = try decoder.decode(IncomingMessage.self, from: line),
              case .success(let params) = call.params else {
            Issue.record("the server could not read the client's request")
            return
        }
        #expect(call.id == .int(9_007_199_254_740_993))
        #expect(call.meta == Self.meta)
        #expect(params as? Transfer == Transfer(from: "acc-1", amount: 250))
    }
}
