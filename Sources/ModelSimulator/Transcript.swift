import Foundation
import LLM
import RPC

/// One run's exchanges with a real model, recorded byte for byte
/// (`model-sim --record`), replayed byte for byte (`model-sim --replay`).
///
/// The file is JSON: `recorded_with` (what answered: server and model), and
/// `exchanges`, each with the request's `path`, the exact request and response
/// bodies as strings, the response's `status` and `content_type`.
public struct Transcript: Sendable, Equatable {
    /// One HTTP request and the answer it got.
    public struct Exchange: Sendable, Equatable {
        public var path: String
        public var request: String
        public var status: Int
        public var contentType: String
        public var response: String

        /// - Parameters: see the properties.
        public init(path: String, request: String, status: Int, contentType: String, response: String) {
            self.path = path
            self.request = request
            self.status = status
            self.contentType = contentType
            self.response = response
        }
    }

    /// What answered, in words (server, build, model, quantization).
    public var recordedWith: String
    public var exchanges: [Exchange]

    /// - Parameters: see the properties.
    public init(recordedWith: String, exchanges: [Exchange] = []) {
        self.recordedWith = recordedWith
        self.exchanges = exchanges
    }

    /// The file's JSON (pretty, so a reviewer can read what the model wrote).
    public var json: JSONValue {
        [
            "recorded_with": .string(recordedWith),
            "exchanges": .array(exchanges.map { exchange in
                ["path": .string(exchange.path), "status": .int(Int64(exchange.status)), "content_type": .string(exchange.contentType),
                 "request": .string(exchange.request), "response": .string(exchange.response)]
            }),
        ]
    }

    /// Reads a transcript file's JSON.
    /// - Throws: ``SimulatorRequestError`` naming what is missing.
    public init(json: JSONValue) throws {
        guard case .array(let items)? = json["exchanges"] else { throw SimulatorRequestError("a transcript needs an exchanges array") }
        recordedWith = json["recorded_with"]?.stringValue ?? ""
        exchanges = try items.enumerated().map { index, item in
            guard let path = item["path"]?.stringValue, let request = item["request"]?.stringValue,
                  let status = item["status"]?.intValue, let response = item["response"]?.stringValue
            else { throw SimulatorRequestError("exchange \(index + 1) needs path, request, status and response") }
            return Exchange(
                path: path, request: request, status: Int(status),
                contentType: item["content_type"]?.stringValue ?? "application/json", response: response)
        }
    }
}

/// Which recorded exchange answers a request: the endpoint, what was asked for
/// (a plan, tools, or text), streaming or not, every user message, and how many
/// assistant turns came before. Call ids, tool results and the system prompt's
/// wording are not part of it, so a transcript still answers when they differ.
public struct ReplayKey: Hashable, Sendable, CustomStringConvertible {
    public let api: LLMAPI
    public let kind: String
    public let stream: Bool
    public let userMessages: [String]
    public let turn: Int

    /// - Parameter request: a parsed request.
    public init(_ request: SimulatorRequest) {
        api = request.api
        kind = request.structured ? "structured" : request.hasTools ? "tools" : "plain"
        stream = request.stream
        var users: [String] = []
        var turn = 0
        for message in request.conversation {
            switch message {
            case .user(let text): users.append(text)
            case .assistant: turn += 1
            default: break
            }
        }
        userMessages = users
        self.turn = turn
    }

    public var description: String {
        "\(api.rawValue) \(kind)\(stream ? " streamed" : "") turn \(turn + 1) for \(userMessages.map { "'\($0.prefix(80))'" }.joined(separator: ", "))"
    }
}

/// The recorded exchanges of a directory of transcripts, by the request each answers.
public struct TranscriptLibrary: Sendable {
    public let exchanges: [ReplayKey: Transcript.Exchange]

    /// Loads every `*.json` transcript in `directory`.
    /// - Throws: ``SimulatorRequestError`` for an unreadable file, or two exchanges that answer the same request.
    public init(directory: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        guard !names.isEmpty else { throw SimulatorRequestError("\(directory) holds no transcripts (*.json)") }
        var found: [ReplayKey: (Transcript.Exchange, String)] = [:]
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            let transcript: Transcript
            do {
                transcript = try Transcript(json: try JSONValue(parsing: try Data(contentsOf: URL(fileURLWithPath: path))))
            } catch {
                throw SimulatorRequestError("\(path) is not a transcript: \(error)")
            }
            for exchange in transcript.exchanges {
                let key = try Self.key(of: exchange)
                if let (_, other) = found[key] {
                    throw SimulatorRequestError("\(name) and \(other) both answer \(key); keep one of them in \(directory)")
                }
                found[key] = (exchange, name)
            }
        }
        exchanges = found.mapValues(\.0)
    }

    /// The key of a recorded exchange, from its request.
    public static func key(of exchange: Transcript.Exchange) throws -> ReplayKey {
        guard let api = Self.api(forPath: exchange.path) else { throw SimulatorRequestError("unknown path \(exchange.path)") }
        return ReplayKey(try SimulatorRequest(body: try JSONValue(parsing: exchange.request), api: api))
    }

    /// The API a request path belongs to.
    public static func api(forPath path: String) -> LLMAPI? {
        if path.hasSuffix("/chat/completions") { return .chat }
        if path.hasSuffix("/responses") { return .responses }
        return nil
    }
}
