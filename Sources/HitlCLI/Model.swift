import Agent
import ArgumentParser
import Foundation
import LLM
import Logging
import RPC

/// `hitl model`: what the configured model can do, and how well it drives the agent.
struct Model: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check what your model's endpoint can do; measure how often it gets the seed's requests right.",
        discussion: """
            The model is the one agent-svc uses: OPENAI_BASE_URL, OPENAI_API_KEY, HITL_MODEL, \
            HITL_LLM_API (see `hitl model check --help`). With none of them set, the stack's \
            offline simulator in <home>/run/model-http.sock.

            Examples:
              OPENAI_BASE_URL=http://127.0.0.1:8080/v1 HITL_MODEL=local hitl model check
              hitl model eval --mode structured          # the seed's three requests once, checked against the ledger
              scripts/model-eval --runs 5                 # × 5 in each mode, each on a fresh stack
            """,
        subcommands: [ModelCheckCommand.self, ModelEvalCommand.self])
}

/// `hitl model check`.
struct ModelCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Probe the model endpoint with the seed's requests and say which API and mode to use.",
        discussion: """
            Asks the endpoint the seed's three requests the way the agent does (one model turn \
            each), on Chat Completions and on the Responses API: does it serve each API, does \
            it return real tool calls (or write them as text, which the agent recovers on Chat \
            Completions), does it follow the ActionPlan json_schema, does it stream. Prints a \
            table, the recommended HITL_LLM_API and mode, and the exact environment to set. \
            A Responses endpoint that answers but ignores tools (llama.cpp's llama-server) is \
            named as such. A small local model needs about a minute for the whole check.

            The endpoint comes from the same variables as agent-svc's: OPENAI_BASE_URL, \
            OPENAI_API_KEY (never printed), HITL_MODEL, HITL_LLM_TEXT_TOOL_CALLS; with none \
            of them, the stack's simulator. --base-url and --model override them.

            Exit code 0 when some API and mode got a request right, 1 when none did, \
            3 when the endpoint could not be reached at all.

            Examples:
              OPENAI_BASE_URL=http://127.0.0.1:8080/v1 HITL_MODEL=local hitl model check
              OPENAI_API_KEY=sk-… hitl model check --quick --json
              hitl model check                    # the stack's simulator, when nothing is set
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The API root to check (default: $OPENAI_BASE_URL).", valueName: "url"))
    var baseURL: String?

    @Option(help: ArgumentHelp("The model name to send (default: $HITL_MODEL).", valueName: "name"))
    var model: String?

    @Flag(help: "One request per probe instead of three (what agent-svc does at start-up).")
    var quick = false

    func validate() throws {
        guard let baseURL else { return }
        guard let url = URL(string: baseURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), !(url.host ?? "").isEmpty else {
            throw ValidationError("--base-url must be an http:// or https:// URL, like http://127.0.0.1:11434/v1")
        }
    }

    func run() async throws {
        var environment = ProcessInfo.processInfo.environment
        if let baseURL { environment["OPENAI_BASE_URL"] = baseURL }
        if let model { environment["HITL_MODEL"] = model }
        let simulator = global.directory.run.appendingPathComponent("model-http.sock").path
        let configuration: LLMConfiguration
        do {
            configuration = try LLMConfiguration.fromEnvironment(
                environment, simulatorSocket: FileManager.default.fileExists(atPath: simulator) ? simulator : nil)
        } catch let error as LLMError {
            Output.err("hitl model check: \(error.description)")
            throw ExitCode(HitlExit.usage.rawValue)
        }
        var logger = Logger(label: "hitl.model")
        logger.logLevel = .critical  // the table says what failed; retries are not news here
        let json = global.json
        let report = await ModelCheck(configuration: configuration, depth: quick ? .quick : .full, logger: logger).run { line in
            if !json { Output.err("  asking \(line)") }
        }
        if json {
            Output.out(try JSONValue(encoding: ModelCheckJSON(report)).jsonText())
        } else {
            Output.out(report.rendered())
        }
        if report.apis.allSatisfy({ $0.served == false }) { throw ExitCode(HitlExit.unreachable.rawValue) }
        if report.recommendation == nil { throw ExitCode(HitlExit.rpcError.rawValue) }
    }
}

/// `hitl model check --json`: the table's cells and the recommendation.
struct ModelCheckJSON: Encodable {
    let endpoint: String
    let model: String
    let apis: [[String: String]]
    let notes: [String]
    let recommendation: String
    let environment: String?

    init(_ report: ModelCheckReport) {
        endpoint = report.baseURL
        model = report.model
        apis = report.apis.map(report.logFields)
        notes = report.notes
        recommendation = report.recommendationText
        environment = report.environment
    }
}
