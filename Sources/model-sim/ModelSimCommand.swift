import ArgumentParser
import Foundation
import Hummingbird
import LLM
import Logging
import ModelSimulator
import RPC
import ServiceKit
import Synchronization

@main
struct ModelSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model-sim",
        abstract: "An offline, deterministic, OpenAI-compatible model simulator. It is a rule-based stand-in, not a language model.",
        discussion: """
            Serves POST /v1/responses and POST /v1/chat/completions on loopback, streaming \
            (SSE) or not, so the agent can run with no API key and no network, talking HTTP \
            exactly as to a real provider. It recognizes banking requests with fixed rules \
            ("Check my balance and transfer $50 to Alice", "Deposit $200", "Transfer $500 to \
            Bob for rent", "$1,250.50", "150 dollars") and answers with tool calls or a JSON \
            ActionPlan. It reports its model as "\(SimulatedModel.modelName)".

            Fault modes for tests, per request with a marker in the user's message \
            ([sim:500]) or for every request with --fault: \
            \(SimulatorFault.allCases.map(\.rawValue).joined(separator: ", ")).

            With --stack (how `scripts/stack up` runs it when no OPENAI_API_KEY or \
            OPENAI_BASE_URL is set), it listens on <home>/run/\(SimulatorService.httpSocket) \
            instead of a TCP port, and serves health.check and rpc.discover on \
            <home>/run/\(SimulatorService.name).sock so the supervisor checks and restarts it \
            like any service; `agent-svc --model-simulator` talks to it there.

            Transcripts of real models, for tests without a model: --record DIR --upstream URL \
            passes every request to a real OpenAI-compatible server unchanged and writes each \
            run's exchanges (exact request and response bodies) to a file in DIR; --replay DIR \
            answers each request with the recorded response to it, byte for byte (matched by \
            endpoint, plan/tools/text, streaming, the user's messages and the turn; a request \
            nobody recorded gets 404 saying so). Tests/Fixtures/models/ holds transcripts of \
            Qwen2.5-Coder-1.5B-Instruct on llama.cpp's llama-server.

            Example:
              model-sim --port 8091 &
              OPENAI_BASE_URL=http://127.0.0.1:8091/v1 agent-svc ...
              model-sim --port 8092 --record /tmp/transcripts --upstream http://127.0.0.1:8080/v1 &
              model-sim --port 8093 --replay Tests/Fixtures/models/qwen2.5-coder-1.5b/runs &
            """)

    @OptionGroup var service: ServiceOptions

    @Flag(help: "Run as a stack service: HTTP on <home>/run/\(SimulatorService.httpSocket), control RPC on <home>/run/\(SimulatorService.name).sock.")
    var stack = false

    @Option(help: "Address to listen on (loopback unless you mean it).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; see --port-file).")
    var port = 8091

    @Option(help: ArgumentHelp("Write the port actually bound to this file once listening.", valueName: "path"))
    var portFile: String?

    @Option(help: ArgumentHelp("A fault for every request.", valueName: "name"))
    var fault: String?

    @Option(help: ArgumentHelp("How long the 'slow' fault waits, in milliseconds.", valueName: "ms"))
    var slowMs: Int64 = 1500

    @Option(help: ArgumentHelp("Answer from the transcripts in this directory, byte for byte, instead of the rules.", valueName: "dir"))
    var replay: String?

    @Option(help: ArgumentHelp("Pass requests to --upstream and write each run's exchanges to a transcript in this directory.", valueName: "dir"))
    var record: String?

    @Option(help: ArgumentHelp("The real model's API root for --record, e.g. http://127.0.0.1:8080/v1.", valueName: "url"))
    var upstream: String?

    @Option(help: ArgumentHelp(
        "How long --record waits for the upstream model: no longer than its client waits (agent-svc: 60 s), or a request the client gave up on keeps a local server busy.",
        valueName: "s"))
    var upstreamTimeoutS: Int64 = 60

    @Option(help: ArgumentHelp("What --upstream is (server, model, quantization), written into each transcript.", valueName: "text"))
    var recordedWith = "unnamed OpenAI-compatible server"

    @Flag(help: "Exit when the process that started this one exits (for tests and supervisors).")
    var exitWithParent = false

    func validate() throws {
        if let fault, SimulatorFault(rawValue: fault) == nil {
            throw ValidationError("unknown fault '\(fault)'; use one of \(SimulatorFault.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (0...600_000).contains(slowMs) else { throw ValidationError("--slow-ms must be between 0 and 600000") }
        if replay != nil, record != nil { throw ValidationError("--replay and --record exclude each other: replay a directory, or record into one") }
        if (replay != nil || record != nil), fault != nil { throw ValidationError("--fault is for the rule-based simulator; leave it out with --replay or --record") }
        guard (1...3600).contains(upstreamTimeoutS) else { throw ValidationError("--upstream-timeout-s must be between 1 and 3600") }
        if (record == nil) != (upstream == nil) { throw ValidationError("--record needs --upstream (the real model to record) and --upstream needs --record") }
    }

    /// What answers `POST /v1/responses` and `/v1/chat/completions`: the rules, a replay, or a recording proxy.
    private func handler(logger: Logger) throws -> @Sendable (Request, LLMAPI) async throws -> Response {
        if let replay {
            let library: TranscriptLibrary
            do {
                library = try TranscriptLibrary(directory: replay)
            } catch {
                throw ValidationError("--replay \(replay): \(error)")
            }
            logger.info("replaying recorded transcripts", metadata: ["directory": "\(replay)", "exchanges": "\(library.exchanges.count)"])
            let endpoint = ReplayEndpoint(library: library, logger: logger)
            return { request, api in try await endpoint.handle(request, api: api) }
        }
        if let record, let upstream {
            let proxy = RecordingProxy(
                upstream: upstream, timeout: .seconds(upstreamTimeoutS),
                recorder: try TranscriptRecorder(directory: record, recordedWith: recordedWith), logger: logger)
            logger.info("recording a real model", metadata: ["directory": "\(record)", "upstream": "\(upstream)"])
            return { request, api in try await proxy.handle(request, api: api) }
        }
        let simulator = SimulatorEndpoint(model: SimulatedModel(globalFault: fault.flatMap(SimulatorFault.init)), slow: .milliseconds(slowMs), logger: logger)
        return { request, api in try await simulator.handle(request, api: api) }
    }

    func run() async throws {
        ServiceMain.bootstrapLogging(level: service.logLevel)
        let logger = Logger(label: "model-sim")
        if exitWithParent { watchParent(logger: logger) }
        let answer = try handler(logger: logger)
        let router = Router()
        router.get("/health") { _, _ in "ok" }
        router.get("/v1/models") { _, _ -> Response in
            SimulatorEndpoint.json(["object": "list", "data": [["id": .string(SimulatedModel.modelName), "object": "model"]]], status: .ok)
        }
        router.post("/v1/responses") { request, _ in try await answer(request, .responses) }
        router.post("/v1/chat/completions") { request, _ in try await answer(request, .chat) }
        let portFile = self.portFile
        let httpSocket = stack ? service.directory.run.appendingPathComponent(SimulatorService.httpSocket).path : nil
        let address: BindAddress = httpSocket.map { .unixDomainSocket(path: $0) } ?? .hostname(host, port: port)
        if let httpSocket {
            try service.directory.prepare()
            try? FileManager.default.removeItem(atPath: httpSocket)  // a leftover of a killed simulator
        }
        let role = replay != nil ? "replaying recorded transcripts" : record != nil ? "recording a real model" : "rule-based stand-in, not a language model"
        let app = Application(
            router: router, configuration: .init(address: address, serverName: "model-sim"),
            onServerRunning: { channel in
                if let httpSocket {
                    chmod(httpSocket, 0o600)
                    logger.info("model simulator listening (\(role))", metadata: ["socket": "\(httpSocket)"])
                    return
                }
                let bound = channel.localAddress?.port ?? 0
                logger.info("model simulator listening (\(role))", metadata: ["port": "\(bound)"])
                if let portFile { try? IdentityProvisioner.writePrivate(Data("\(bound)\n".utf8), to: portFile) }
            },
            logger: logger)
        guard stack else { return try await app.runService() }
        // Under the supervisor: the HTTP server and the control socket stop together.
        try await ServiceMain.run(description: try SimulatorService.description(), options: service, services: [app]) { _ in }
    }
}

extension ModelSimCommand {
    /// How often the parent is checked: a leftover simulator lingers at most this long.
    static let parentPollInterval: Duration = .milliseconds(500)

    private func watchParent(logger: Logger) {
        let parent = getppid()
        Task.detached {
            while getppid() == parent { try? await Task.sleep(for: Self.parentPollInterval) }
            logger.info("the parent process exited; stopping")
            Foundation.exit(0)
        }
    }
}

/// Turns HTTP requests into simulator answers.
final class SimulatorEndpoint: Sendable {
    /// The largest request body read: conversations here are a few KiB.
    static let maximumBodyBytes = 4 << 20
    /// Conversations remembered for `429-once`; old ones are forgotten first.
    static let maximumRemembered = 10_000

    let model: SimulatedModel
    let slow: Duration
    let logger: Logger
    private let rateLimited = Mutex<[String]>([])
    private let counter = Atomic<Int>(0)

    init(model: SimulatedModel, slow: Duration, logger: Logger) {
        self.model = model
        self.slow = slow
        self.logger = logger
    }

    func handle(_ request: Request, api: LLMAPI) async throws -> Response {
        let bytes = try await request.body.collect(upTo: Self.maximumBodyBytes)
        let parsed: SimulatorRequest
        do {
            let body = try JSONValue(parsing: String(buffer: bytes))
            parsed = try SimulatorRequest(body: body, api: api)
        } catch {
            return Self.error(status: .badRequest, message: "the request is not a valid \(api.rawValue) request: \(error)")
        }
        let key = parsed.conversation.map { "\($0)" }.joined(separator: "|")
        let seen = rateLimited.withLock { $0.contains(key) }
        if model.fault(in: parsed.conversation) == .slow { try await Task.sleep(for: slow) }
        let id = "sim_\(counter.wrappingAdd(1, ordering: .relaxed).oldValue)"
        let outcome = model.answer(parsed.conversation, structured: parsed.structured, hasTools: parsed.hasTools, seenBefore: seen)
        logger.debug("answered", metadata: ["api": "\(api.rawValue)", "outcome": "\(outcome)"])
        switch outcome {
        case .failure(let status, let message, let retryAfter):
            if status == 429 {
                rateLimited.withLock { remembered in
                    remembered.append(key)
                    if remembered.count > Self.maximumRemembered { remembered.removeFirst() }
                }
            }
            var response = Self.error(status: .init(code: status), message: message)
            if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        case .malformed:
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"output\": [oops")))
        case .reply(let reply):
            guard parsed.stream else { return Self.json(SimulatorWire.body(reply, api: api, id: id), status: .ok) }
            let frames = SimulatorWire.events(reply, api: api, id: id)
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    for frame in frames { try await writer.write(ByteBuffer(string: frame)) }
                    try await writer.finish(nil)
                })
        }
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status) -> Response {
        // The direct writer; JSONEncoder (sorted keys) only for a value with a fraction.
        let body = value.compactJSON().map { ByteBuffer(bytes: $0) } ?? ByteBuffer(string: value.jsonText())
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    static func error(status: HTTPResponse.Status, message: String) -> Response {
        json(["error": ["message": .string(message), "type": "simulator_error"]], status: status)
    }
}
