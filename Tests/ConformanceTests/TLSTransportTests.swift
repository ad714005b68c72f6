import EchoService
import Foundation
import Logging
import NIOSSL
import RPC
import RPCTesting
import ServiceKit
import Testing

/// The RPC over TCP with mutual TLS, beside the Unix socket: the same calls answer the
/// same way; a client without a certificate from the stack's CA, or trusting another
/// CA, gets nowhere; plaintext TCP is refused unless the flag names the risk; a token
/// is still required on top of the certificate.
@Suite(.serialized)
struct TLSTransportTests {
    static let quiet = Logger(label: "tls", factory: { _ in SwiftLogNoOpLogHandler() })

    /// An echo server on the home's socket and a TCP port (TLS unless `tls` is nil).
    private func withEcho(
        tls: Bool = true, allowPlaintext: Bool = false, _ body: (TestHome, Int) async throws -> Void
    ) async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        try TLSAuthority.provision(["echo", "client"], hosts: ["127.0.0.1", "localhost"], in: home.directory)
        let files = RPCTLS.files(for: "echo", in: home.directory)
        let listener = TCPListener(
            host: "127.0.0.1", port: 0, tls: tls ? try RPCTLS.server(certificate: files.certificate, key: files.key, ca: files.ca) : nil,
            allowPlaintext: allowPlaintext)
        let server = RPCServer(
            description: try EchoService.description(),
            configuration: RPCServerConfiguration(socketPath: home.socket("echo"), tcp: listener),
            identities: try IdentityRegistry.load(from: home.directory), logger: Self.quiet
        ) { EchoService.register(&$0) }
        try await server.start()
        let port = try #require(await server.tcpPort)
        do {
            try await body(home, port)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    private func clientTLS(_ home: TestHome) throws -> RPCTLS {
        let files = RPCTLS.files(for: "client", in: home.directory)
        return try RPCTLS.client(certificate: files.certificate, key: files.key, ca: files.ca)
    }

    @Test func callsOverTCPWithMutualTLSAnswerAsOverTheSocket() async throws {
        try await withEcho { home, port in
            let token = try IdentityProvisioner.token(for: "operator", in: home.directory)
            for host in ["127.0.0.1", "localhost"] {
                let client = RPCClient(endpoint: .tcp(host: host, port: port), tls: try clientTLS(home), token: token)
                let sum = try await client.call("echo.add", ["a": 2, "b": 3] as JSONValue, as: JSONValue.self)
                #expect(sum["sum"]?.intValue == 5, "over \(host)")
                let discovered = try await client.call("rpc.discover", NoParams(), as: JSONValue.self)
                #expect(discovered["info"]?["title"] != nil)
                await client.close()
            }
            // The socket still serves the same.
            let local = RPCClient(path: home.socket("echo"), token: token)
            #expect(try await local.call("echo.add", ["a": 2, "b": 3] as JSONValue, as: JSONValue.self)["sum"]?.intValue == 5)
            await local.close()
        }
    }

    @Test func aCertificateIsNotAnIdentity() async throws {
        try await withEcho { home, port in
            // A certificate from the CA but no token: the TLS handshake passes, the call does not.
            let client = RPCClient(endpoint: .tcp(host: "127.0.0.1", port: port), tls: try clientTLS(home), token: nil)
            await #expect(throws: RPCError.self) {
                _ = try await client.call("echo.operator_only", NoParams(), as: JSONValue.self)
            }
            await client.close()
        }
    }

    @Test func withoutACertificateFromTheStacksCANothingGetsThrough() async throws {
        try await withEcho { home, port in
            let token = try IdentityProvisioner.token(for: "operator", in: home.directory)
            let ca = RPCTLS.files(for: "client", in: home.directory).ca
            // No client certificate: the server ends the handshake.
            var anonymous = TLSConfiguration.makeClientConfiguration()
            anonymous.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            let noCertificate = RPCClient(
                endpoint: .tcp(host: "127.0.0.1", port: port), tls: RPCTLS(context: try NIOSSLContext(configuration: anonymous)), token: token)
            await #expect(throws: (any Error).self) {
                _ = try await noCertificate.call("echo.add", ["a": 1, "b": 1] as JSONValue, as: JSONValue.self, options: .init(timeout: .seconds(5)))
            }
            await noCertificate.close()
            // A client of another stack (another CA): it does not trust this server, nor this server it.
            let other = try TestHome.make()
            defer { other.remove() }
            try TLSAuthority.provision(["client"], hosts: ["127.0.0.1"], in: other.directory)
            let foreign = RPCClient(endpoint: .tcp(host: "127.0.0.1", port: port), tls: try clientTLS(other), token: token)
            await #expect(throws: (any Error).self) {
                _ = try await foreign.call("echo.add", ["a": 1, "b": 1] as JSONValue, as: JSONValue.self, options: .init(timeout: .seconds(5)))
            }
            await foreign.close()
            // Plaintext to a TLS port.
            let plain = RPCClient(endpoint: .tcp(host: "127.0.0.1", port: port), tls: nil, token: token)
            await #expect(throws: (any Error).self) {
                _ = try await plain.call("echo.add", ["a": 1, "b": 1] as JSONValue, as: JSONValue.self, options: .init(timeout: .seconds(5)))
            }
            await plain.close()
        }
    }

    @Test func plaintextTCPIsRefusedUnlessTheFlagNamesTheRisk() async throws {
        await #expect(throws: ServerStartupError.self) {
            try await withEcho(tls: false) { _, _ in Issue.record("a plaintext TCP listener started without the flag") }
        }
        try await withEcho(tls: false, allowPlaintext: true) { home, port in
            let token = try IdentityProvisioner.token(for: "operator", in: home.directory)
            let client = RPCClient(endpoint: .tcp(host: "127.0.0.1", port: port), tls: nil, token: token)
            #expect(try await client.call("echo.add", ["a": 1, "b": 2] as JSONValue, as: JSONValue.self)["sum"]?.intValue == 3)
            await client.close()
        }
    }

    @Test(arguments: [
        ("unix:/run/x.sock", RPCEndpoint.unix("/run/x.sock")), ("/run/x.sock", .unix("/run/x.sock")),
        ("tcp://10.0.0.2:9001", .tcp(host: "10.0.0.2", port: 9001)), ("tcp://[::1]:9001", .tcp(host: "::1", port: 9001)),
        ("tcp://ledger.internal:443", .tcp(host: "ledger.internal", port: 443)),
    ])
    func addressesAreRead(text: String, expected: RPCEndpoint) throws {
        #expect(try RPCEndpoint(parsing: text) == expected)
    }

    @Test(arguments: ["tcp://host", "tcp://:9001", "tcp://h:0", "tcp://h:70000", "unix:relative", "ledger", "http://h:1"])
    func badAddressesSayWhatTheyTake(text: String) {
        #expect(throws: RPCEndpointError.self) { try RPCEndpoint(parsing: text) }
    }
}
