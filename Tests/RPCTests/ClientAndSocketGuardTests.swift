import Foundation
import Testing
@testable import RPC

struct ClientAndSocketGuardTests {
    @Test(arguments: [JSONValue.array([1, 2]), .string("x"), .int(5), .null])
    func nonObjectParamsAreRefusedBeforeAnythingIsSent(params: JSONValue) async throws {
        let client = RPCClient(path: "/nonexistent/socket.sock")
        do {
            _ = try await client.call("echo.echo", params, as: JSONValue.self)
            Issue.record("expected INVALID_ARGUMENT")
        } catch let error as RPCError {
            #expect(error.code == JSONRPCCode.invalidParams)
            #expect(error.details["field"] == .string("params"))
        }
    }

    @Test func aRegularFileAtTheSocketPathIsNeverDeleted() throws {
        var template = Array("/tmp/hitl-guard-XXXXXX".utf8CString)
        let folder = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/x.sock"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ServerStartupError.self) { try SocketPath.prepare(path) }
        #expect(FileManager.default.contents(atPath: path) == Data("precious".utf8))
    }
}
