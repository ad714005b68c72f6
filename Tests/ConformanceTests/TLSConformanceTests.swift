import Foundation
import RPC
import RPCTesting
import ServiceKit
import Testing

/// Every service that takes `--listen` answers over TCP with mutual TLS as it does on
/// its socket: the same health, the same contract, the same refusal of a call without
/// a token. (The full conformance suite runs on the sockets; the transport under it is
/// what differs, and `TLSTransportTests` holds that to the same framing.)
@Suite(.serialized)
struct TLSConformanceTests {
    static let listening = ConformanceTarget.all.filter { ["echo", "ledger", "state", "approval", "agent"].contains($0.service) }

    @Test(arguments: listening)
    func theSameServiceOverTLS(target: ConformanceTarget) async throws {
        let home = try TestHome.make()
        try TLSAuthority.provision([target.service, "client"], hosts: ["127.0.0.1"], in: home.directory)
        let port = try TestPorts.freeLoopbackPort()
        let service = try await RunningService.launch(target, arguments: ["--listen", "tcp://127.0.0.1:\(port)"], home: home)
        let files = RPCTLS.files(for: "client", in: home.directory)
        let tls = try RPCTLS.client(certificate: files.certificate, key: files.key, ca: files.ca)
        let remote = RPCClient(endpoint: .tcp(host: "127.0.0.1", port: port), tls: tls)
        let local = RPCClient(path: service.socket)
        let health = try await remote.call("health.check", NoParams(), as: JSONValue.self)
        #expect(health["status"]?.stringValue == "SERVING", "\(target.service): \(health)")
        let overTLS = try await remote.call("rpc.discover", NoParams(), as: JSONValue.self)
        let overSocket = try await local.call("rpc.discover", NoParams(), as: JSONValue.self)
        #expect(overTLS == overSocket, "\(target.service) documents the same contract on both")
        // A method that needs a token, without one: the same refusal on both.
        let method = overSocket["methods"]?.arrayValues?.compactMap { $0["name"]?.stringValue }
            .first { $0.hasPrefix("\(target.service).") && !["echo.echo", "echo.add", "echo.stream", "echo.sleep", "echo.fail"].contains($0) }
        if let method {
            let refusals = await [remote, local].asyncMap { client -> String? in
                do {
                    _ = try await client.call(method, [:] as JSONValue, as: JSONValue.self)
                    return nil
                } catch let error as RPCError {
                    return "\(error.status)/\(error.reason)"
                } catch {
                    return "\(error)"
                }
            }
            #expect(refusals[0] == refusals[1], "\(target.service) \(method): \(refusals)")
            #expect(refusals[0] != nil, "\(method) answered a call without a token")
        }
        await remote.close()
        await local.close()
        await service.stop()
    }
}

extension Array where Element: Sendable {
    /// The elements mapped one after another by an async transform.
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var result: [T] = []
        for element in self { result.append(await transform(element)) }
        return result
    }
}
