import Foundation
import LLM
import Logging
import RPC
import RPCTesting
import Testing

@testable import Agent

/// `hitl model check`'s probes, against the rule-based simulator, a server that
/// answers nothing, and the real model's recorded answers.
@Suite(.serialized)
struct ModelCheckTests {
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/models/qwen2.5-coder-1.5b")

    func check(_ arguments: [String], depth: ModelCheck.Depth = .full) async throws -> ModelCheckReport {
        let home = try TestHome.make()
        defer { home.remove() }
        let port = try SimulatorLauncher.start(home: home, arguments: arguments)
        let configuration = LLMConfiguration(baseURL: "http://127.0.0.1:\(port)/v1", apiKey: nil, model: "local", api: .responses)
        return await ModelCheck(configuration: configuration, depth: depth, logger: Logger(label: "test")).run()
    }

    @Test func theSimulatorDoesEverythingRight() async throws {
        let report = try await check([])
        for api in report.apis {
            #expect(api.served == true)
            #expect(api.tools == Array(repeating: .native(correct: true), count: 3), "\(api.api)")
            #expect(api.plans == Array(repeating: .valid(correct: true), count: 3), "\(api.api)")
            #expect(api.streams != nil && api.streams != .no(""))
            if case .no(let reason)? = api.streams { Issue.record("\(api.api) did not stream: \(reason)") }
        }
        #expect(report.recommendation == ModelCheckReport.Recommendation(api: .responses, mode: .structured, correct: 3, asked: 3))
        #expect(report.notes.isEmpty)
        let text = report.rendered()
        #expect(text.contains("recommended: HITL_LLM_API=responses, mode structured (3 of 3 right"))
        #expect(text.contains("export OPENAI_BASE_URL=http://127.0.0.1:"))
    }

    @Test func aQuickCheckAsksOnce() async throws {
        let report = try await check([], depth: .quick)
        #expect(report.apis.map(\.tools.count) == [1, 1])
        #expect(report.apis.map(\.plans.count) == [1, 1])
    }

    /// A wrong call or plan is not counted right: the unknown-tool fault on every request.
    @Test func wrongCallsAreNotRight() async throws {
        let report = try await check(["--fault", "unknown-tool"])
        let chat = try #require(report.apis.first { $0.api == .chat })
        #expect(chat.tools == [.native(correct: false), .native(correct: true), .native(correct: false)])
    }

    /// What Qwen2.5-Coder-1.5B on llama-server answered to the check, replayed: chat gets
    /// its calls as text (recovered) and follows the schema; the Responses API answers but
    /// returns no function_call and never applies the schema, and is named for it.
    @Test func theRealModelsAnswersGiveChatAndStructured() async throws {
        let report = try await check(["--replay", Self.fixtures.appendingPathComponent("check").path])
        let chat = try #require(report.apis.first { $0.api == .chat })
        let responses = try #require(report.apis.first { $0.api == .responses })
        #expect(chat.tools == Array(repeating: .text(correct: true), count: 3))
        #expect(chat.plans == Array(repeating: .valid(correct: true), count: 3))
        #expect(!chat.ignoresSchema)
        #expect(responses.served == true)
        #expect(responses.ignoresTools)
        #expect(responses.ignoresSchema)
        #expect(report.recommendation == ModelCheckReport.Recommendation(api: .chat, mode: .structured, correct: 3, asked: 3))
        let text = report.rendered()
        #expect(text.contains("note: responses answers but ignores tools: no function_call in 3 of 3 replies"))
        #expect(text.contains("note: responses answers but ignores the json_schema format"))
        #expect(text.contains("note: the agent is configured with HITL_LLM_API=responses; this endpoint works better with chat."))
        #expect(text.contains("HITL_MODEL=local HITL_LLM_API=chat"))
        for api in report.apis { if case .no(let reason)? = api.streams { Issue.record("\(api.api) did not stream: \(reason)") } }
    }

    /// agent-svc checks a model of the user's own at start-up, in the background, and logs
    /// what it found; HITL_LLM_CHECK=0 skips it. The key is never in the log.
    @Test func agentSvcLogsTheCheckAtStartUp() async throws {
        try await AgentStack.with { stack in
            let log = stack.home.directory.logs.appendingPathComponent("agent.log").path
            var text = ""
            for _ in 0..<200 {
                text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if text.contains("model check: recommended") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(text.contains("model check: recommended: HITL_LLM_API=responses, mode structured (1 of 1 right"), "\(text)")
            #expect(text.components(separatedBy: "model check").count - 1 == 3)
            #expect(!text.contains("sk-test"))
        }
        try await AgentStack.with(environment: ["HITL_LLM_CHECK": "0"]) { stack in
            #expect(try await stack.chat("Deposit $200 into my account").status == "completed")
            try await Task.sleep(for: .seconds(1))
            let text = (try? String(contentsOfFile: stack.home.directory.logs.appendingPathComponent("agent.log").path, encoding: .utf8)) ?? ""
            #expect(!text.contains("model check"))
        }
    }

    @Test func anEndpointThatAnswersNothingIsNamedSo() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("empty-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let unrelated = #"{"exchanges":[{"path":"/v1/chat/completions","status":200,"content_type":"application/json","request":"{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}","response":"{}"}]}"#
        try Data(unrelated.utf8).write(to: folder.appendingPathComponent("a.json"))
        let report = try await check(["--replay", folder.path])
        #expect(report.apis.map(\.served) == [false, false])
        #expect(report.apis.allSatisfy { $0.failure == "HTTP 404" })
        #expect(report.recommendation == nil)
        #expect(report.rendered().contains("recommended: nothing"))
    }
}

/// Starts model-sim on a free port for a test (it exits with the test process).
enum SimulatorLauncher {
    static func start(home: TestHome, arguments: [String]) throws -> Int {
        let portFile = home.directory.home.appendingPathComponent("sim-port-\(UUID().uuidString.prefix(8))").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("model-sim"))
        process.arguments = ["--port", "0", "--port-file", portFile, "--log-level", "warning", "--exit-with-parent"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<500 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return port
            }
            guard process.isRunning else { throw RunDirectoryError("model-sim exited with \(process.terminationStatus)") }
            usleep(20_000)
        }
        throw RunDirectoryError("model-sim did not report its port within 10 s")
    }
}
