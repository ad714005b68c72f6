import Agent
import ArgumentParser
import Foundation
import LLM
import Logging
import RPC
import ServiceKit
import ServiceLifecycle

@main
struct AgentServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-svc",
        abstract: "The banking agent: the LLM loop, deferred execution and stateless, exactly-once resume.",
        discussion: """
            Serves newline-delimited JSON-RPC 2.0 on <home>/run/agent.sock. Talks to ledger-svc, \
            approval-svc and state-svc in the same home as the `agent` identity, and to an \
            OpenAI-compatible model configured by OPENAI_BASE_URL, OPENAI_API_KEY, HITL_MODEL, \
            HITL_LLM_API (responses|chat), HITL_LLM_STREAM and HITL_LLM_TEXT_TOOL_CALLS (0: \
            take tool calls a model writes as text as text). At start-up it checks a model of \
            your own with the seed's first request (what `hitl model check` does in full) and \
            logs what the endpoint can do and what to set; HITL_LLM_CHECK=0 skips that. \
            With --model-simulator and none \
            of OPENAI_API_KEY, OPENAI_BASE_URL, HITL_LLM_UNIX_SOCKET set, it talks to the \
            stack's offline simulator on <home>/run/model-http.sock (what `scripts/stack up` \
            does when you have no API key). Keeps nothing in memory between calls; follows \
            approval decisions from a cursor kept in state-svc.

            Example:
              agent-svc --home .hitl &
              hitl call agent agent.chat '{"message": "Transfer $500 to Bob for rent"}'
            """)

    @OptionGroup var options: ServiceOptions

    @Flag(help: "Do not follow approval decisions (runs resume only through agent.resume).")
    var noFollow = false

    @Option(help: ArgumentHelp("Seconds between sweeps for runs left running by an agent that died mid-chat.", valueName: "s"))
    var sweepIntervalS: Int64 = 30

    @Option(help: ArgumentHelp("A running run with no save for this long is ended as abandoned (longer than any chat can take).", valueName: "s"))
    var staleRunAfterS: Int64 = 900

    @Option(help: ArgumentHelp(
        "A paused run whose approval was decided but that nobody resumed for this long is resumed by the sweeper (not with --no-follow).",
        valueName: "s"))
    var reconcileAfterS: Int64 = 60

    @Flag(help: "Without OPENAI_API_KEY or OPENAI_BASE_URL, use the stack's model simulator (<home>/run/model-http.sock).")
    var modelSimulator = false

    func validate() throws {
        guard (1...86_400).contains(sweepIntervalS) else { throw ValidationError("--sweep-interval-s must be between 1 and 86400") }
        guard (1...604_800).contains(staleRunAfterS) else { throw ValidationError("--stale-run-after-s must be between 1 and 604800") }
        guard (1...86_400).contains(reconcileAfterS) else { throw ValidationError("--reconcile-after-s must be between 1 and 86400") }
    }

    static func main() { ServiceMain.main(Self.self) }

    func run() async throws {
        ServiceMain.bootstrapLogging(level: options.logLevel)
        let logger = Logger(label: "agent")
        let agent: Agent
        let identities: LiveIdentities
        do {
            try options.directory.prepare()
            let simulator = modelSimulator ? options.directory.run.appendingPathComponent(Self.simulatorSocket).path : nil
            let configuration = try LLMConfiguration.fromEnvironment(simulatorSocket: simulator)
            logger.notice("model", metadata: [
                "destination": "\(configuration.destination)", "model": "\(configuration.model)", "api": "\(configuration.api.rawValue)",
                "stream": "\(configuration.stream)", "key": "\(configuration.apiKey == nil ? "none" : "set")",
                "max_tokens": "\(configuration.maxOutputTokens.map(String.init) ?? "none")",
                "temperature": "\(configuration.temperature.map { "\($0)" } ?? "provider default")",
            ])
            let llm = LLMClient(configuration: configuration, logger: logger)
            if !modelSimulatorInUse(configuration, simulator), ProcessInfo.processInfo.environment["HITL_LLM_CHECK"] != "0" {
                // What the user's endpoint can do, in the log, without delaying start-up.
                Task.detached { await ModelCheck(configuration: configuration, depth: .quick, logger: logger).log(to: logger) }
            }
            identities = try LiveIdentities(directory: options.directory)
            agent = try Agent(directory: options.directory, llm: llm, identities: identities, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        let sweeper = RunSweeper(
            agent: agent, interval: .seconds(sweepIntervalS), staleAfter: .seconds(staleRunAfterS),
            reconcileAfter: noFollow ? nil : .seconds(reconcileAfterS))
        let followers: [any Service] = (noFollow ? [] : [DecisionFollower(agent: agent)]) + [sweeper]
        do {
            try await ServiceMain.run(
                description: try AgentService.description(), options: options, services: followers, identities: identities
            ) { router in
                AgentService.register(&router, agent: agent)
            }
        } catch {
            await agent.close()
            throw error
        }
        await agent.close()
    }
}

extension AgentServiceCommand {
    /// Whether the agent talks to the stack's own simulator, which needs no check.
    func modelSimulatorInUse(_ configuration: LLMConfiguration, _ simulator: String?) -> Bool {
        simulator != nil && configuration.unixSocketPath == simulator
    }

    /// The model simulator's HTTP socket in the run directory (model-sim --stack listens there).
    static let simulatorSocket = "model-http.sock"
}
