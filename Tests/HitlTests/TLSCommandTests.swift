import Foundation
import RPC
import RPCTesting
import Testing

/// The RPC over TCP as a user sets it up: `hitl init --tls-host` makes the CA and the
/// certificates, a service started with `--listen tcp://…` serves there beside its
/// socket, and `hitl --connect service=tcp://…` calls it; a service asked to listen
/// without certificates says what to run, unless plaintext is asked for by name.
@Suite(.serialized)
struct TLSCommandTests {
    @Test func initMakesCertificatesAServiceListensAndHitlConnects() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let hitl = HitlRunner(home: home)
        let initialized = try await hitl.run(["init", "--compose", HitlRunner.compose, "--tls-host", "127.0.0.1", "--tls-host", "localhost"])
        #expect(initialized.status == 0 && initialized.stdout.contains("TLS:"), "\(initialized.transcript)")
        let tls = home.directory.run.appendingPathComponent("tls")
        for file in ["ca.pem", "ca.key", "echo.pem", "echo.key", "client.pem", "client.key"] {
            #expect(FileManager.default.fileExists(atPath: tls.appendingPathComponent(file).path), "\(file) was not made")
        }
        let keyMode = try FileManager.default.attributesOfItem(atPath: tls.appendingPathComponent("ca.key").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600, "the CA's key is private")

        let port = try TestPorts.freeLoopbackPort()
        let echo = try await ServiceProcess.launch("echo-svc", service: "echo", home: home, arguments: ["--listen", "tcp://127.0.0.1:\(port)"])
        defer { Task { await echo.terminate() } }
        let called = try await hitl.run(["--connect", "echo=tcp://127.0.0.1:\(port)", "call", "echo", "echo.add", #"{"a": 2, "b": 3}"#, "--json"])
        #expect(called.status == 0, "\(called.transcript)")
        #expect(try JSONValue(parsing: called.stdout)["sum"]?.intValue == 5)
        let named = try await hitl.run(["--connect", "echo=tcp://localhost:\(port)", "call", "echo", "echo.add", #"{"a": 1, "b": 1}"#, "--json"])
        #expect(named.status == 0, "the certificate names localhost too: \(named.transcript)")
        let badAddress = try await hitl.run(["--connect", "echo=ftp://x", "health"])
        #expect(badAddress.status == 2 && badAddress.stderr.contains("--connect echo"), "\(badAddress.transcript)")
    }

    @Test func listeningWithoutCertificatesSaysWhatToRunUnlessPlaintextIsNamed() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let port = try TestPorts.freeLoopbackPort()
        do {
            let refused = try await ServiceProcess.launch(
                "echo-svc", service: "echo", home: home, arguments: ["--listen", "tcp://127.0.0.1:\(port)"], timeout: .seconds(10))
            await refused.terminate()
            Issue.record("echo-svc listened on TCP without certificates or --allow-plaintext-tcp")
        } catch let error as RunDirectoryError {
            #expect(error.description.contains("hitl init --tls-host"), "the refusal says what to run: \(error.description)")
        }
        let plain = try await ServiceProcess.launch(
            "echo-svc", service: "echo", home: home, arguments: ["--listen", "tcp://127.0.0.1:\(port)", "--allow-plaintext-tcp"])
        defer { Task { await plain.terminate() } }
        let client = RPCClient(endpoint: .tcp(host: "127.0.0.1", port: port), tls: nil, token: try home.token("operator"))
        #expect(try await client.call("echo.add", ["a": 4, "b": 5] as JSONValue, as: JSONValue.self)["sum"]?.intValue == 9)
        await client.close()
    }
}
