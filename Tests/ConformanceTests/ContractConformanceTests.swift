import Foundation
import Logging
import RPC
import RPCTesting
import Testing

/// The contract a service serves (`rpc.discover`) against the OpenRPC meta-schema
/// and against what it really does, in both directions.
@Suite(.sharedService)
struct ContractConformanceTests {
    /// Method names: `service.method` in snake case.
    static let methodNamePattern = "^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$"
    static let builtins: Set = ["health.check", "health.watch", "rpc.discover", "rpc.cancel", "rpc.stats"]

    private func discover(_ service: RunningService) async throws -> JSONValue {
        let connection = try await service.connect()
        defer { Task { await connection.close() } }
        return try #require(expectResult(try await connection.call(request("rpc.discover", id: "1"), id: .int(1)), id: .int(1)))
    }

    @Test(arguments: ConformanceTarget.all)
    func theContractIsAValidOpenRPCDocument(target: ConformanceTarget) async throws {
        let document = try await discover(try await sharedService(target))
        let problems = try await SchemaCheck.problems(document, schemaPath: try Repository.openRPCMetaSchema())
        #expect(problems == nil, "rpc.discover does not validate against the OpenRPC 1.3 meta-schema:\n\(problems ?? "")")
    }

    /// The check itself can fail: a broken document is caught.
    @Test func theMetaSchemaCheckCatchesABrokenDocument() async throws {
        let broken = JSONValue.object(["openrpc": .string("1.3.2"), "info": .object(["title": .string("x")]), "methods": .array([.int(1)])])
        let problems = try #require(try await SchemaCheck.problems(broken, schemaPath: try Repository.openRPCMetaSchema()))
        #expect(problems.contains("/info: 'version' is a required property"), "\(problems)")
    }

    @Test(arguments: ConformanceTarget.all)
    func methodNamesFollowTheConvention(target: ConformanceTarget) async throws {
        let service = try await sharedService(target)
        let document = try await discover(service)
        let names = DocumentedMethod.all(in: document).map(\.name)
        #expect(Set(names).count == names.count, "each method is documented once: \(names)")
        #expect(Self.builtins.isSubset(of: Set(names)), "every service serves \(Self.builtins.sorted())")
        for name in names {
            #expect(name.range(of: Self.methodNamePattern, options: .regularExpression) != nil, "\(name) is not service.method in snake case")
            #expect(Self.builtins.contains(name) || name.hasPrefix("\(target.service)."), "\(name) is outside the \(target.service). namespace")
        }
        let connection = try await service.connect()
        defer { Task { await connection.close() } }
        let health = try #require(expectResult(try await connection.next(after: request("health.check", id: "1")), id: .int(1)))
        #expect(document["info"]?["version"] == health["version"], "the contract's version is the service's")
    }

    /// Documented → served: calling any documented method never gets -32601.
    /// No token is sent, so nothing but public methods can run.
    @Test(arguments: ConformanceTarget.all)
    func everyDocumentedMethodIsServed(target: ConformanceTarget) async throws {
        let service = try await sharedService(target)
        let connection = try await service.connect()
        defer { Task { await connection.close() } }
        let methods = DocumentedMethod.all(in: try await discover(service))
        #expect(!methods.isEmpty)
        for (index, method) in methods.enumerated() {
            let response = try await connection.call(request(method.name, id: "\(index)", meta: #"{"deadline_ms":200}"#), id: .int(Int64(index)))
            #expect(response["error"]?["code"] != .int(-32601), "\(method.name) is documented but not served")
        }
    }

    /// The results of what every service serves validate against the schemas its
    /// own contract gives for them (one jsonschema run for all of them).
    @Test(arguments: ConformanceTarget.all)
    func builtinResultsMatchTheirDocumentedSchemas(target: ConformanceTarget) async throws {
        let service = try await sharedService(target)
        let document = try await discover(service)
        let connection = try await service.connect()
        defer { Task { await connection.close() } }
        let calls: [(method: String, params: String)] = [
            ("health.check", "{}"), ("rpc.discover", "{}"), ("rpc.cancel", #"{"id":"nothing"}"#),
        ]
        var results: [JSONValue] = []
        var schemas: [JSONValue] = []
        let methods = DocumentedMethod.all(in: document)
        for (index, call) in calls.enumerated() {
            let response = try await connection.call(request(call.method, id: "\(index)", params: call.params), id: .int(Int64(index)))
            results.append(try #require(expectResult(response, id: .int(Int64(index)))))
            schemas.append(try #require(methods.first { $0.name == call.method }?.resultSchema, "\(call.method) documents no result schema"))
        }
        // A draft-07 tuple: result i against schema i; `#/components/...` resolves in the wrapper.
        let wrapper = JSONValue.object([
            "components": document["components"] ?? .object([:]),
            "type": .string("array"),
            "items": .array(schemas),
        ])
        let problems = try await SchemaCheck.problems(.array(results), schema: wrapper)
        #expect(problems == nil, "results of \(calls.map(\.method)) do not match their documented schemas:\n\(problems ?? "")")
    }
}

/// Served → documented: a server refuses to start when its router and its
/// contract disagree. In-process, since a real executable cannot be made to disagree.
struct ContractMismatchTests {
    static let contract = #"{"openrpc":"1.3.2","info":{"title":"t","version":"0"},"methods":[{"name":"t.documented","params":[],"result":{"name":"r","schema":{}}}]}"#

    private func server(_ home: TestHome, register: @escaping @Sendable (inout RPCRouterBuilder) -> Void) throws -> RPCServer {
        let description = try RPCServiceDescription(name: "t", openRPC: Array(Self.contract.utf8))
        return RPCServer(
            description: description, configuration: RPCServerConfiguration(socketPath: home.socket("t")), identities: nil,
            logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }), register: register)
    }

    @Test func anUndocumentedMethodStopsTheServerFromStarting() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let server = try server(home) { router in
            router.registerInline("t.documented", params: NoParams.self) { _, _ in true }
            router.registerInline("t.secret", params: NoParams.self) { _, _ in true }
        }
        #expect(server.contractMismatch.undocumented == ["t.secret"])
        #expect(server.contractMismatch.unserved == [])
        let error = await #expect(throws: ServerStartupError.self) { try await server.start() }
        #expect(error?.description.contains("t.secret") == true)
        #expect(!FileManager.default.fileExists(atPath: home.socket("t")), "nothing is bound")
    }

    @Test func aDocumentedButUnservedMethodStopsTheServerFromStarting() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let server = try server(home) { _ in }
        #expect(server.contractMismatch.undocumented == [])
        #expect(server.contractMismatch.unserved == ["t.documented"])
        let error = await #expect(throws: ServerStartupError.self) { try await server.start() }
        #expect(error?.description.contains("t.documented") == true)
    }

    @Test func aMatchingContractServes() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let server = try server(home) { router in
            router.registerInline("t.documented", params: NoParams.self, options: .init(access: .public)) { _, _ in ["ok": true] }
        }
        #expect(server.contractMismatch.undocumented.isEmpty && server.contractMismatch.unserved.isEmpty)
        try await server.start()
        let connection = try await RawConnection.connect(home.socket("t"))
        let result = expectResult(try await connection.next(after: request("t.documented", id: "1")), id: .int(1))
        #expect(result == .object(["ok": .bool(true)]))
        await connection.close()
        await server.shutdown()
    }
}
