import CurlKit
import Foundation
import LLM
import Logging
import RPC
import Testing

/// Every request carries an output limit in its API's field, unless switched off.
struct OutputLimitTests {
    func sentBody(_ api: LLMAPI, limit: Int?, temperature: Double? = nil) async throws -> JSONValue {
        let reply = api == .chat
            ? #"{"choices":[{"message":{"role":"assistant","content":"ok"}}]}"#
            : #"{"output":[{"type":"message","content":[{"type":"output_text","text":"ok"}]}]}"#
        let transport = ScriptedTransport([.init(status: 200, body: reply)])
        let configuration = LLMConfiguration(baseURL: "http://127.0.0.1:9/v1", apiKey: nil, model: "m", api: api, maxOutputTokens: limit,
            temperature: temperature)
        _ = try await LLMClient(configuration: configuration, transport: transport, logger: Logger(label: "test"))
            .complete(ModelRequest(messages: [.user("hi")]))
        let sent = try #require(transport.sent.withLock { $0.first })
        return try JSONValue(parsing: String(decoding: sent.body, as: UTF8.self))
    }

    @Test func theLimitGoesInEachAPIsField() async throws {
        let chat = try await sentBody(.chat, limit: LLMConfiguration.defaultMaxOutputTokens)
        #expect(chat["max_tokens"] == .int(Int64(LLMConfiguration.defaultMaxOutputTokens)))
        #expect(chat["max_output_tokens"] == nil)
        let responses = try await sentBody(.responses, limit: 300)
        #expect(responses["max_output_tokens"] == .int(300))
        #expect(responses["max_tokens"] == nil)
        let none = try await sentBody(.chat, limit: nil)
        #expect(none["max_tokens"] == nil)
    }

    @Test(arguments: [(nil as String?, LLMConfiguration.defaultMaxOutputTokens as Int?), ("0", nil), ("256", 256)])
    func theVariable(value: String?, limit: Int?) throws {
        var environment = ["OPENAI_BASE_URL": "http://x/v1"]
        environment["HITL_LLM_MAX_TOKENS"] = value
        #expect(try LLMConfiguration.fromEnvironment(environment).maxOutputTokens == limit)
    }

    @Test(arguments: ["-1", "lots", "1e3", "1000001"])
    func aWrongValueSaysWhatToWrite(value: String) {
        #expect(throws: LLMError.self) {
            try LLMConfiguration.fromEnvironment(["OPENAI_BASE_URL": "http://x/v1", "HITL_LLM_MAX_TOKENS": value])
        }
    }

    /// The temperature is sent only when set, as a number, in both APIs.
    @Test func theTemperatureIsSentOnlyWhenSet() async throws {
        #expect(try await sentBody(.chat, limit: nil)["temperature"] == nil)
        #expect(try await sentBody(.chat, limit: nil, temperature: 0)["temperature"] == .int(0))
        #expect(try await sentBody(.responses, limit: nil, temperature: 0.5)["temperature"] == .double(0.5))
    }

    @Test(arguments: [(nil as String?, nil as Double?), ("0", 0), ("0.7", 0.7), ("2", 2)])
    func theTemperatureVariable(value: String?, temperature: Double?) throws {
        var environment = ["OPENAI_BASE_URL": "http://x/v1"]
        environment["HITL_LLM_TEMPERATURE"] = value
        #expect(try LLMConfiguration.fromEnvironment(environment).temperature == temperature)
    }

    @Test(arguments: ["-0.1", "2.5", "warm", "nan", "inf"])
    func aWrongTemperatureSaysWhatToWrite(value: String) {
        #expect {
            try LLMConfiguration.fromEnvironment(["OPENAI_BASE_URL": "http://x/v1", "HITL_LLM_TEMPERATURE": value])
        } throws: { error in
            "\(error)".contains("HITL_LLM_TEMPERATURE is '\(value)'; use a number from 0")
        }
    }
}
