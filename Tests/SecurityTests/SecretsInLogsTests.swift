import Banking
import Foundation
import RPC
import RPCFuzz
import RPCTesting
import ServiceKit
import Testing

/// Secrets never reach a log: the stack runs at the most verbose level with a
/// known API key, takes traffic that succeeds and fails in every way (model
/// errors, wrong and mangled tokens, refused grants, a short fuzz run that puts
/// real tokens in wrong places), and then no log file holds the API key, any
/// token of `run/`, or the grant signing key in base64, base64url or hex.
struct SecretsInLogsTests {
    static let apiKey = "sk-hitl-secret-" + UUID().uuidString.replacingOccurrences(of: "-", with: "")

    @Test func noLogHoldsTheAPIKeyATokenOrThePrivateKey() async throws {
        var home: TestHome?
        try await withStack(logLevel: "trace", environment: ["OPENAI_API_KEY": Self.apiKey], keepHome: true) { stack in
            home = stack.home
            try await Self.driveTraffic(stack)
        }
        let stackHome = try #require(home)
        defer { stackHome.remove() }
        let secrets = try Self.secrets(in: stackHome)
        #expect(secrets.count >= 8, "the API key, 4 tokens and the key in 3 encodings")
        let logs = stackHome.directory.logs.path
        let files = try FileManager.default.contentsOfDirectory(atPath: logs).filter { $0.hasSuffix(".log") }
        #expect(Set(files).isSuperset(of: ["echo.log", "state.log", "approval.log", "ledger.log", "agent.log", "model-sim.log"]), "\(files)")
        var scanned = 0
        for file in files {
            let text = try String(contentsOfFile: logs + "/" + file, encoding: .utf8)
            scanned += text.utf8.count
            for (name, secret) in secrets where text.contains(secret) {
                let line = text.split(separator: "\n").first { $0.contains(secret) } ?? ""
                Issue.record("\(file) holds \(name): \(line.prefix(300))")
            }
        }
        #expect(scanned > 20_000, "the logs are too short (\(scanned) bytes) for the scan to mean anything")
    }

    /// Every secret by name: the API key, each token file's content, the private
    /// key's file text and its raw bytes in base64url and hex.
    static func secrets(in home: TestHome) throws -> [(String, String)] {
        var secrets = [("the API key", apiKey)]
        let tokens = home.directory.tokens.path
        for file in try FileManager.default.contentsOfDirectory(atPath: tokens) {
            let token = try String(contentsOfFile: tokens + "/" + file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            secrets.append(("the token \(file)", token))
        }
        let keyFile = GrantKeys.privateKeyPath(in: home.directory)
        let text = try String(contentsOfFile: keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        secrets.append(("the grant signing key (file text)", text))
        let raw = try #require(Data(base64Encoded: text), "the signing key file is base64")
        secrets.append(("the grant signing key in base64url", Base64URL.encode(raw)))
        secrets.append(("the grant signing key in hex", raw.map { String(format: "%02x", $0) }.joined()))
        secrets.append(("the grant signing key in HEX", raw.map { String(format: "%02X", $0) }.joined()))
        return secrets
    }

    static func driveTraffic(_ stack: FuzzStack) async throws {
        // The agent end to end: a pause, an approval, a resume; then model failures.
        for message in [
            "Transfer $500 to Bob for rent", "Check my balance and transfer $50 to Alice", "Deposit $200 into my account",
            "[sim:500] transfer $20 to Bob", "[sim:429-once] what is my balance?", "[sim:malformed] transfer $20 to Bob",
            "[sim:bad-args] deposit", "[sim:unknown-tool] hello",
        ] {
            _ = try await stack.call("agent", "agent.chat", ["message": .string(message)], as: "agent")
        }
        if case .result(let pending) = try await stack.call("approval", "approval.list", ["status": "pending"], as: "operator"),
           case .array(let approvals)? = pending["approvals"] {
            for approval in approvals {
                guard let id = approval["approval_id"] else { continue }
                _ = try await stack.call("approval", "approval.decide", ["approval_id": id, "decision": "approve"], as: "approver1")
            }
        }
        // Refusals: other roles, unknown and mangled tokens, forged grants.
        let agentToken = try stack.home.token("agent")
        for token in [agentToken + "x", " " + agentToken, String(agentToken.reversed()), try stack.home.token("approver1")] {
            _ = try await stack.call("ledger", "ledger.open_account", ["account": "eve", "_meta": ["token": .string(token)]], as: nil)
        }
        _ = try await stack.call("ledger", "ledger.transfer", [
            "from": "checking", "to": "bob", "amount": "500.00", "idempotency_key": "forged",
            "grant": ["grant_id": "gr_forged", "signature": .string(agentToken)],
        ], as: "agent")
        // A short fuzz run: real tokens in every wrong place, every kind of bad line.
        var configuration = FuzzConfiguration(seed: 99, linesPerService: 200)
        configuration.lanes = 2
        configuration.oversizeEvery = 400
        _ = try await Fuzzer.run(stack: stack, services: FuzzStack.allServices, configuration: configuration)
    }
}
