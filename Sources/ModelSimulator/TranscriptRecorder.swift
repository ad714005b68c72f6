import Foundation
import LLM
import RPC
import Synchronization

/// Writes what a real model answered into transcript files, one per run, as the
/// exchanges happen (`model-sim --record DIR --upstream URL`).
///
/// A request with no assistant turn before it starts a transcript; a later turn
/// joins the newest transcript with the same API and first user message. Runs
/// recorded one after another (as `scripts/model-eval` makes them) therefore
/// land in one file each.
public final class TranscriptRecorder: Sendable {
    /// Transcripts one recorder writes: far above any evaluation here, and it keeps the directory listable.
    public static let maximumTranscripts = 10_000

    private struct Open {
        let api: LLMAPI
        let firstUser: String
        let file: String
        var transcript: Transcript
    }

    private struct State {
        var open: [Open] = []
        var count = 0
    }

    private let directory: String
    private let recordedWith: String
    private let state = Mutex(State())

    /// - Parameters:
    ///   - directory: where transcript files go (created if missing).
    ///   - recordedWith: what answers, in words, written into every file.
    /// - Throws: when the directory cannot be created.
    public init(directory: String, recordedWith: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.recordedWith = recordedWith
    }

    /// Adds one exchange to its run's transcript and rewrites that file.
    /// - Returns: the file written.
    /// - Throws: ``SimulatorRequestError`` when the request is not a model request or a body is not UTF-8; file errors.
    @discardableResult
    public func record(path: String, request: Data, status: Int, contentType: String, response: Data) throws -> String {
        guard let api = TranscriptLibrary.api(forPath: path) else { throw SimulatorRequestError("not a model endpoint: \(path)") }
        guard let requestText = String(validating: request, as: UTF8.self), let responseText = String(validating: response, as: UTF8.self) else {
            throw SimulatorRequestError("a body is not UTF-8 text; it cannot be kept byte for byte in a JSON transcript")
        }
        let key = ReplayKey(try SimulatorRequest(body: try JSONValue(parsing: requestText), api: api))
        let exchange = Transcript.Exchange(path: path, request: requestText, status: status, contentType: contentType, response: responseText)
        let (file, transcript) = try state.withLock { state -> (String, Transcript) in
            let firstUser = key.userMessages.first ?? ""
            if key.turn > 0, let index = state.open.lastIndex(where: { $0.api == api && $0.firstUser == firstUser }) {
                state.open[index].transcript.exchanges.append(exchange)
                return (state.open[index].file, state.open[index].transcript)
            }
            guard state.count < Self.maximumTranscripts else {
                throw SimulatorRequestError("\(Self.maximumTranscripts) transcripts recorded; start another recorder with a new directory")
            }
            state.count += 1
            let file = String(format: "%03d", state.count) + "-\(api.rawValue)-\(key.kind)-\(Self.slug(firstUser)).json"
            let opened = Open(api: api, firstUser: firstUser, file: file, transcript: Transcript(recordedWith: recordedWith, exchanges: [exchange]))
            state.open.append(opened)
            return (file, opened.transcript)
        }
        let path = (directory as NSString).appendingPathComponent(file)
        try Data((transcript.json.jsonText(pretty: true) + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return path
    }

    /// `Deposit $200 into my account` → `deposit-200-into-my-account`.
    static func slug(_ text: String) -> String {
        let words = text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) || !$0.isASCII })
        return String(words.joined(separator: "-").prefix(48))
    }
}
