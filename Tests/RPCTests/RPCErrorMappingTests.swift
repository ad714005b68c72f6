import Foundation
import Logging
import Testing
@testable import RPC

/// gRPC status ↔ JSON-RPC code, and the error object as it crosses the wire.
struct RPCErrorMappingTests {
    static let wireStatuses = RPCStatus.allCases.filter { $0 != .ok }

    @Test(arguments: wireStatuses)
    func anApplicationErrorsCodeIsMinus32000MinusItsStatus(status: RPCStatus) {
        let error = RPCError(status, reason: "SOME_REASON", "message")
        #expect(error.code == -32000 - status.rawValue)
        #expect(status.jsonRPCCode == error.code)
        #expect((-32016 ... -32001).contains(error.code))
    }

    @Test func theStatusNumbersAreGRPCs() {
        // The canonical numbering (google.rpc.Code); the wire depends on every one of them.
        let expected: [(RPCStatus, Int, String)] = [
            (.ok, 0, "OK"), (.cancelled, 1, "CANCELLED"), (.unknown, 2, "UNKNOWN"),
            (.invalidArgument, 3, "INVALID_ARGUMENT"), (.deadlineExceeded, 4, "DEADLINE_EXCEEDED"),
            (.notFound, 5, "NOT_FOUND"), (.alreadyExists, 6, "ALREADY_EXISTS"),
            (.permissionDenied, 7, "PERMISSION_DENIED"), (.resourceExhausted, 8, "RESOURCE_EXHAUSTED"),
            (.failedPrecondition, 9, "FAILED_PRECONDITION"), (.aborted, 10, "ABORTED"),
            (.outOfRange, 11, "OUT_OF_RANGE"), (.unimplemented, 12, "UNIMPLEMENTED"), (.internal, 13, "INTERNAL"),
            (.unavailable, 14, "UNAVAILABLE"), (.dataLoss, 15, "DATA_LOSS"), (.unauthenticated, 16, "UNAUTHENTICATED"),
        ]
        #expect(expected.count == RPCStatus.allCases.count)
        for (status, number, name) in expected {
            #expect(status.rawValue == number)
            #expect(status.name == name)
        }
    }

    @Test(arguments: RPCStatus.allCases)
    func statusNamesRoundTrip(status: RPCStatus) throws {
        #expect(RPCStatus(name: status.name) == status)
        #expect(status.name.range(of: "^[A-Z][A-Z0-9_]*$", options: .regularExpression) != nil)
        let encoded = try JSONEncoder().encode([status])
        #expect(String(decoding: encoded, as: UTF8.self) == "[\"\(status.name)\"]")
        #expect(try JSONDecoder().decode([RPCStatus].self, from: encoded) == [status])
    }

    @Test func anUnknownStatusNameIsRejected() {
        #expect(RPCStatus(name: "not_found") == nil)
        #expect(RPCStatus(name: "TEAPOT") == nil)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([RPCStatus].self, from: Data("[\"TEAPOT\"]".utf8)) }
    }

    static let errors: [RPCError] = wireStatuses.map { RPCError($0, reason: "R_\($0.rawValue)", "status \($0.name)") } + [
        .parseError("bad json"),
        .invalidRequest("not a request"),
        .invalidRequest("empty", reason: "EMPTY_BATCH"),
        .methodNotFound("x.y"),
        .invalidParams(field: "action.amount", "must be positive"),
        .invalidParams(field: "a", "is required", reason: "MISSING_FIELD"),
        .internalError(),
        .deadlineExceeded(),
        .cancelled(),
        .unavailable("restarting", reason: "DRAINING"),
        RPCError(.permissionDenied, reason: "ROLE_NOT_ALLOWED", "no", details: ["role": .string("agent"), "n": .int(3), "list": .array([.null, .bool(true)])]),
    ]

    @Test(arguments: errors)
    func theErrorObjectRoundTrips(error: RPCError) throws {
        let data = try JSONEncoder().encode(ErrorObject(error))
        let object = try JSONDecoder().decode(JSONValue.self, from: data)
        #expect(object["code"] == .int(Int64(error.code)))
        #expect(object["message"] == .string(error.message))
        #expect(object["data"]?["status"] == .string(error.status.name))
        #expect(object["data"]?["reason"] == .string(error.reason))
        #expect(try JSONDecoder().decode(ErrorObject.self, from: data).rpcError == error)
    }

    @Test(arguments: [
        (-32700, RPCStatus.invalidArgument), (-32600, .invalidArgument), (-32602, .invalidArgument),
        (-32601, .unimplemented), (-32603, .internal), (-32000, .internal), (-32099, .internal), (1, .internal),
    ] + wireStatuses.map { ($0.jsonRPCCode, $0) })
    func anErrorWithoutDataTakesItsStatusFromTheCode(code: Int, status: RPCStatus) throws {
        let data = Data("{\"code\":\(code),\"message\":\"m\"}".utf8)
        let error = try JSONDecoder().decode(ErrorObject.self, from: data).rpcError
        #expect(error.code == code)
        #expect(error.status == status)
        #expect(error.reason == status.name)
        #expect(error.details.isEmpty)
    }

    @Test func theResponseAlwaysCarriesTheID() throws {
        let line = ResponseEncoder().failure(id: .null, error: .parseError("x"))
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.hasSuffix("}\n"))
        #expect(text.contains("\"id\":null"))
        #expect(try JSONDecoder().decode(JSONValue.self, from: line)["jsonrpc"] == .string("2.0"))
    }

    @Test func anyErrorThrownByAHandlerBecomesInternalWithoutInternals() {
        struct Secret: Error { let password = "hunter2" }
        let error = RPCServerHandler.wireError(Secret(), logger: .init(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        #expect(error.code == -32603)
        #expect(error.status == .internal)
        #expect(!error.message.contains("hunter2"))
        #expect(RPCServerHandler.wireError(CancellationError(), logger: .init(label: "t")).status == .cancelled)
        #expect(RPCServerHandler.wireError(RPCError.deadlineExceeded(), logger: .init(label: "t")).code == -32004)
    }
}
