import Foundation
import RPC
import RPCTesting
import Testing

/// Who may call what, driven by each method's `x-access` in the service's own
/// contract: health and discovery need no token; every other method refuses a
/// caller without a token, with an unknown token, or with the wrong role.
@Suite(.sharedService)
struct AccessConformanceTests {
    /// The identities every test home provisions, with their roles.
    static let identities = TestHome.defaultIdentities

    private func contract(_ connection: RawConnection) async throws -> [DocumentedMethod] {
        let document = try #require(expectResult(try await connection.call(request("rpc.discover", id: "\"d\""), id: .string("d")), id: .string("d")))
        return DocumentedMethod.all(in: document)
    }

    @Test(arguments: ConformanceTarget.all)
    func healthAndDiscoveryNeedNoToken(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        let health = expectResult(try await connection.next(after: request("health.check", id: "1")), id: .int(1))
        #expect(health?["status"] == .string("SERVING"))
        #expect(health?["service"] == .string(target.service))
        expectResult(try await connection.next(after: request("rpc.discover", id: "2")), id: .int(2))
        // A token the service does not know changes nothing for public methods.
        expectResult(try await connection.next(after: request("health.check", id: "3", meta: #"{"token":"not-a-token"}"#)), id: .int(3))
    }

    @Test(arguments: ConformanceTarget.all)
    func everyMethodDeclaresWhoMayCallIt(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        for method in try await contract(connection) {
            #expect(method.access != nil, "\(method.name): x-access must be public, authenticated or roles: a, b")
        }
        let builtins = try await contract(connection).filter { $0.name.hasPrefix("health.") || $0.name.hasPrefix("rpc.") }
        #expect(builtins.allSatisfy { $0.access == .public }, "health.* and rpc.* are public")
    }

    @Test(arguments: ConformanceTarget.all)
    func withoutATokenProtectedMethodsAreUnauthenticated(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        for method in try await contract(connection) where method.access != .public {
            // Empty params: access is decided before params are looked at.
            expectError(
                try await connection.call(request(method.name, id: "\"u\"", params: "{}"), id: .string("u")),
                code: -32016, reason: "UNAUTHENTICATED", status: "UNAUTHENTICATED", id: .string("u"))
            expectError(
                try await connection.call(request(method.name, id: "\"e\"", meta: #"{"token":""}"#), id: .string("e")),
                code: -32016, reason: "UNAUTHENTICATED", id: .string("e"))
        }
    }

    @Test(arguments: ConformanceTarget.all)
    func anUnknownTokenIsRefused(target: ConformanceTarget) async throws {
        let service = try await sharedService(target)
        let connection = try await service.connect()
        defer { Task { await connection.close() } }
        // A token of another home is as unknown as a made-up one.
        let foreign = try TestHome.make()
        defer { foreign.remove() }
        for method in try await contract(connection) where method.access != .public {
            for token in ["made-up-token", try foreign.token("operator")] {
                expectError(
                    try await connection.call(request(method.name, id: "\"k\"", meta: "{\"token\":\"\(token)\"}"), id: .string("k")),
                    code: -32016, reason: "UNKNOWN_TOKEN", status: "UNAUTHENTICATED", id: .string("k"))
            }
        }
    }

    @Test(arguments: ConformanceTarget.all)
    func theWrongRoleIsPermissionDenied(target: ConformanceTarget) async throws {
        let service = try await sharedService(target)
        let connection = try await service.connect()
        defer { Task { await connection.close() } }
        for method in try await contract(connection) {
            guard case .roles(let roles)? = method.access else { continue }
            for identity in Self.identities where !roles.contains(identity.role) {
                let token = try service.token(identity.name)
                let error = expectError(
                    try await connection.call(request(method.name, id: "\"r\"", meta: "{\"token\":\"\(token)\"}"), id: .string("r")),
                    code: -32007, reason: "ROLE_NOT_ALLOWED", status: "PERMISSION_DENIED", id: .string("r"))
                #expect(error?["message"]?.stringValue?.contains(token) == false, "a token is never echoed back")
            }
        }
    }

    @Test(arguments: ConformanceTarget.all)
    func publicMethodsAreReallyPublic(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        for method in try await contract(connection) where method.access == .public {
            let response = try await connection.call(request(method.name, id: "\"p\"", meta: #"{"deadline_ms":200}"#), id: .string("p"))
            let code = response["error"]?["code"]?.intValue
            #expect(code != -32016 && code != -32007, "\(method.name) is documented public but refused: \(response.jsonText())")
        }
    }
}
