import Foundation
import LLM
import Logging
import ModelSimulator
import RPC
import RPCTesting
import Testing

/// The real LLM client (libcurl) against the real simulator process, over HTTP.
@Suite(.serialized)
struct SimulatorEndToEndTests {
    static let simulator = Result { try SimulatorProcess.start() }

    func client(_ api: LLMAPI, stream: Bool) throws -> LLMClient {
        let port = try Self.simulator.get().port
        let configuration = LLMConfiguration(
            baseURL: "http://127.0.0.1:\(port)/v1", apiKey: "sk-test", model: "sim", api: api, stream: stream,
            requestTimeout: .seconds(10), initialBackoff: .milliseconds(10), maxBackoff: .seconds(2))
        return LLMClient(configuration: configuration, logger: Logger(label: "test"))
    }

    static let tools = ["get_balance", "deposit_money", "transfer_money"].map {
        ToolDefinition(name: $0, description: $0, parameters: ["type": "object"])
    }

    @Test(arguments: [(LLMAPI.responses, false), (.responses, true), (.chat, false), (.chat, true)])
    func toolCallsThenAFinalAnswer(api: LLMAPI, stream: Bool) async throws {
        let client = try client(api, stream: stream)
        var conversation: [ModelMessage] = [.user("Check my balance and transfer $50 to Alice")]
        let first = try await client.complete(ModelRequest(messages: conversation, tools: Self.tools))
        #expect(first.toolCalls.map(\.name) == ["get_balance", "transfer_money"])
        let arguments = try JSONValue(parsing: first.toolCalls[1].arguments)
        #expect(arguments == ["to_account": "alice", "amount": "50"])
        conversation.append(first.message)
        conversation.append(.toolResult(callID: first.toolCalls[0].id, output: "Your balance is $1000.00."))
        conversation.append(.toolResult(callID: first.toolCalls[1].id, output: "Transferred $50.00 to alice."))
        let second = try await client.complete(ModelRequest(messages: conversation, tools: Self.tools))
        #expect(second.toolCalls.isEmpty)
        #expect(second.text == "Your balance is $1000.00. Transferred $50.00 to alice.")
    }

    @Test(arguments: [(LLMAPI.responses, false), (.chat, true)])
    func structuredPlans(api: LLMAPI, stream: Bool) async throws {
        let client = try client(api, stream: stream)
        let reply = try await client.complete(ModelRequest(messages: [.user("Transfer $500 to Bob for rent")], responseSchema: ("ActionPlan", ["type": "object"])))
        #expect(try JSONValue(parsing: reply.text ?? "") == ["actions": [["action_type": "transfer", "to_account": "bob", "amount": "500", "memo": "rent"]]])
    }

    @Test func aRateLimitIsRetriedAndSucceeds() async throws {
        let client = try client(.chat, stream: false)
        let reply = try await client.complete(ModelRequest(messages: [.user("Deposit $200 [sim:429-once]")], tools: Self.tools))
        #expect(reply.toolCalls.first?.name == "deposit_money")
    }

    @Test func serverErrorsAndMalformedRepliesEndClearly() async throws {
        let client = try client(.responses, stream: false)
        await #expect(throws: LLMError.provider(status: 500, message: "simulated server error")) {
            try await client.complete(ModelRequest(messages: [.user("Deposit $5 [sim:500]")], tools: Self.tools))
        }
        await #expect(throws: LLMError.self) {
            try await client.complete(ModelRequest(messages: [.user("Deposit $5 [sim:malformed]")], tools: Self.tools))
        }
    }

    @Test func nothingListeningIsUnreachable() async throws {
        let configuration = LLMConfiguration(baseURL: "http://127.0.0.1:9/v1", apiKey: nil, model: "m", maxAttempts: 2, initialBackoff: .milliseconds(1))
        let client = LLMClient(configuration: configuration, logger: Logger(label: "test"))
        do {
            _ = try await client.complete(ModelRequest(messages: [.user("x")]))
            Issue.record("expected unreachable")
        } catch let error as LLMError {
            #expect(error.rpcError.reason == "LLM_UNREACHABLE")
        }
    }
}

/// The model-sim executable on a free port, for the whole test run.
struct SimulatorProcess: Sendable {
    let port: Int

    /// - Parameter arguments: model-sim's arguments besides the port and lifetime ones.
    static func start(_ arguments: [String] = ["--slow-ms", "200"]) throws -> SimulatorProcess {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("model-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let portFile = folder.appendingPathComponent("port").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("model-sim"))
        process.arguments = ["--port", "0", "--port-file", portFile, "--log-level", "warning", "--exit-with-parent"] + arguments
        // Never share the test runner's pipes: it waits for them to close.
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<500 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
               let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return SimulatorProcess(port: port)
            }
            guard process.isRunning else { throw RunDirectoryError("model-sim exited with \(process.terminationStatus)") }
            usleep(20_000)
        }
        throw RunDirectoryError("model-sim did not report its port within 10 s")
    }
}
