import CurlKit
import Foundation
import LLM
import Logging
import ModelSimulator
import RPC
import RPCTesting
import Testing

/// The transcripts of real models under Tests/Fixtures/models are replayed byte for
/// byte, and what the recorder writes is exactly what passed through it.
@Suite(.serialized)
struct TranscriptReplayTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/models")

    /// Every folder of transcripts under Tests/Fixtures/models.
    static var transcriptFolders: [String] {
        guard let walker = FileManager.default.enumerator(atPath: fixtures.path) else { return [] }
        var folders: Set<String> = []
        while let path = walker.nextObject() as? String {
            if path.hasSuffix(".json") { folders.insert(fixtures.appendingPathComponent((path as NSString).deletingLastPathComponent).path) }
        }
        return folders.sorted()
    }

    @Test func thereAreTranscriptsOfARealModel() {
        #expect(Self.transcriptFolders.count >= 2, "\(Self.fixtures.path)")
    }

    @Test(arguments: transcriptFolders)
    func everyRecordedExchangeIsReplayedByteForByte(folder: String) async throws {
        let replay = try SimulatorProcess.start(["--replay", folder])
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }
        #expect(!names.isEmpty)
        for name in names {
            let transcript = try Transcript(json: try JSONValue(parsing: Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))))
            for exchange in transcript.exchanges {
                let answer = try await CurlTransport.shared.send(
                    HTTPRequest(
                        url: "http://127.0.0.1:\(replay.port)\(exchange.path)", headers: [("Content-Type", "application/json")],
                        body: Data(exchange.request.utf8), connectTimeout: .seconds(5), totalTimeout: .seconds(10)),
                    onBody: nil)
                #expect(answer.status == exchange.status, "\(name)")
                #expect(answer.body == Data(exchange.response.utf8), "\(name): the replayed body differs from the recorded one")
                #expect(answer.headers["content-type"] == exchange.contentType, "\(name)")
            }
        }
    }

    /// A request nobody recorded gets a 404 that says what was asked and what to do.
    @Test func anUnrecordedRequestIsRefusedClearly() async throws {
        let folder = try #require(Self.transcriptFolders.first)
        let replay = try SimulatorProcess.start(["--replay", folder])
        let configuration = LLMConfiguration(baseURL: "http://127.0.0.1:\(replay.port)/v1", apiKey: nil, model: "local", api: .chat, maxAttempts: 1)
        let client = LLMClient(configuration: configuration, logger: Logger(label: "test"))
        do {
            _ = try await client.complete(ModelRequest(messages: [.user("Deposit $7 twice")]))
            Issue.record("an unrecorded request was answered")
        } catch let error as LLMError {
            #expect(error.description.contains("404"))
            #expect(error.description.contains("no recorded answer to chat plain turn 1 for 'Deposit $7 twice'"))
        }
    }

    /// Recording the rule-based simulator through the proxy, then replaying: the agent's
    /// client gets the same replies, and the file holds the exact bodies that passed.
    @Test func whatIsRecordedIsWhatPassedAndIsReplayed() async throws {
        let upstream = try SimulatorProcess.start()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("transcripts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let recorder = try SimulatorProcess.start(["--record", folder, "--upstream", "http://127.0.0.1:\(upstream.port)/v1"])
        let tools = ["get_balance", "transfer_money"].map { ToolDefinition(name: $0, description: $0, parameters: ["type": "object"]) }
        func client(_ port: Int, stream: Bool) -> LLMClient {
            LLMClient(
                configuration: LLMConfiguration(baseURL: "http://127.0.0.1:\(port)/v1", apiKey: nil, model: "m", api: .chat, stream: stream, maxAttempts: 1),
                logger: Logger(label: "test"))
        }
        var conversation: [ModelMessage] = [.system("bank"), .user("Check my balance and transfer $50 to Alice")]
        let first = try await client(recorder.port, stream: false).complete(ModelRequest(messages: conversation, tools: tools))
        conversation.append(first.message)
        for call in first.toolCalls { conversation.append(.toolResult(callID: call.id, output: "done: \(call.name)")) }
        let second = try await client(recorder.port, stream: false).complete(ModelRequest(messages: conversation, tools: tools))
        let streamed = try await client(recorder.port, stream: true).complete(ModelRequest(messages: [.user("Deposit $200 into my account")]))

        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files == ["001-chat-tools-check-my-balance-and-transfer-50-to-alice.json", "002-chat-plain-deposit-200-into-my-account.json"])
        let run = try Transcript(json: try JSONValue(parsing: Data(contentsOf: URL(fileURLWithPath: folder + "/" + files[0]))))
        #expect(run.exchanges.count == 2)
        #expect(try JSONValue(parsing: run.exchanges[1].request)["messages"]?.arrayValues?.count == 5)

        let replay = try SimulatorProcess.start(["--replay", folder])
        #expect(try await client(replay.port, stream: false).complete(ModelRequest(messages: Array(conversation.prefix(2)), tools: tools)) == first)
        #expect(try await client(replay.port, stream: false).complete(ModelRequest(messages: conversation, tools: tools)) == second)
        #expect(try await client(replay.port, stream: true).complete(ModelRequest(messages: [.user("Deposit $200 into my account")])) == streamed)
    }

    @Test func twoTranscriptsAnsweringTheSameRequestAreRefusedAtLoad() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("transcripts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let exchange = Transcript.Exchange(
            path: "/v1/chat/completions", request: #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#, status: 200,
            contentType: "application/json", response: "{}")
        for name in ["a.json", "b.json"] {
            try Data(Transcript(recordedWith: "test", exchanges: [exchange]).json.jsonText().utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
        }
        #expect(throws: SimulatorRequestError.self) { try TranscriptLibrary(directory: folder) }
    }
}
