import Foundation
import Logging
import RPC
import ServiceLifecycle
import Synchronization

/// Keeps the stack's services running: starts them in the order of
/// compose/stack.json, each once the one before it is SERVING; restarts one
/// that exits unexpectedly, with exponential backoff; and stops them all in
/// reverse order on graceful shutdown (SIGTERM, SIGINT or `stack.stop`).
///
/// Everything that changes a service (start, crash, restart, stop) goes
/// through one queue of ``Command``s handled one at a time, so two of them
/// never interleave on the same service; `stack.status` reads the records
/// directly and always answers at once.
actor Supervisor: Service {
    /// What is supervised, and where.
    struct Configuration: Sendable {
        /// The services and identities.
        var definition: StackDefinition
        /// The stack's home.
        var directory: RunDirectory
        /// The folder holding the service executables.
        var binFolder: String
        /// The environment every service inherits (each adds its own `env`).
        var environment: [String: String]
    }

    /// The work the supervisor does, one item at a time.
    enum Command: Sendable {
        /// Clean up after an earlier run, then start every service in order.
        case startAll
        /// A watched process ended.
        case exited(service: String, generation: Int, status: ExitStatus)
        /// A crashed service's restart pause is over.
        case backoffElapsed(service: String, generation: Int)
        /// An operator asked for a restart; the answer goes to `waitingRestarts[request]`.
        case restart(request: Int, service: String)
        /// Stop everything and return from `run()`.
        case stop
    }

    /// One supervised service.
    struct Record {
        let spec: StackDefinition.ServiceSpec
        var state: SupervisedState = .pending
        var child: ChildProcess?
        /// Bumped at every start and stop, so events about an older process are ignored.
        var generation = 0
        var restarts = 0
        var lastExit: ExitStatus?
        var lastError: String?
        var startedAt: ContinuousClock.Instant?
        var servingSince: ContinuousClock.Instant?
        var nextRestartAt: ContinuousClock.Instant?
        var backoff: RestartBackoff
        /// Watches the running process (exit and health).
        var watcher: Task<Void, Never>?
        /// Waits out the restart pause.
        var timer: Task<Void, Never>?

        init(spec: StackDefinition.ServiceSpec) {
            self.spec = spec
            self.backoff = RestartBackoff(initialMs: spec.restart.backoffInitialMs, maximumMs: spec.restart.backoffMaxMs)
        }
    }

    let configuration: Configuration
    let logger: Logger
    let clock = ContinuousClock()
    let startedAt: ContinuousClock.Instant
    /// Service names in start order.
    let order: [String]
    var records: [String: Record]
    /// Operators waiting for a restart to finish, by request number.
    var waitingRestarts: [Int: CheckedContinuation<StackRestartResult, any Error>] = [:]
    private var nextRequest = 0
    private let commands: AsyncStream<Command>
    private let inbox: AsyncStream<Command>.Continuation
    /// Set once a stop began; checked by every wait so a stop is never held up.
    nonisolated let stopFlag = StopFlag()

    /// - Parameters:
    ///   - configuration: what to supervise.
    ///   - logger: one line per event (start, SERVING, crash, restart, stop).
    init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.startedAt = clock.now
        self.order = configuration.definition.services.map(\.name)
        self.records = Dictionary(uniqueKeysWithValues: configuration.definition.services.map { ($0.name, Record(spec: $0)) })
        (commands, inbox) = AsyncStream.makeStream(of: Command.self)
    }

    /// Starts the stack, then supervises it until graceful shutdown or
    /// `stack.stop`; then stops every service in reverse order and returns.
    func run() async throws {
        post(.startAll)
        await withTaskCancellationOrGracefulShutdownHandler {
            for await command in commands {
                guard await handle(command), !stopFlag.isSet else { break }
            }
        } onCancelOrGracefulShutdown: { [stopFlag, inbox] in
            stopFlag.set()
            inbox.yield(.stop)
        }
        // If the group cancelled this task, its sleeps would return at once and the stop
        // bounds would turn into busy loops: stop from a fresh, uncancelled task.
        await Task { await self.stopAll() }.value
        inbox.finish()
        for (_, reply) in waitingRestarts { reply.resume(throwing: Self.stoppingError) }
        waitingRestarts = [:]
        logger.notice("every service is stopped; the supervisor exits")
    }

    /// Queues a command.
    nonisolated func post(_ command: Command) {
        inbox.yield(command)
    }

    /// Handles one command; false when the supervisor should stop.
    private func handle(_ command: Command) async -> Bool {
        switch command {
        case .startAll:
            await stopOrphans()
            await startPending()
        case .exited(let service, let generation, let status):
            handleExit(service, generation: generation, status: status)
        case .backoffElapsed(let service, let generation):
            await restartAfterBackoff(service, generation: generation)
        case .restart(let request, let service):
            await performRestart(request: request, service: service)
        case .stop:
            return false
        }
        return true
    }

    /// Asks for a restart and waits for its outcome (used by `stack.restart`).
    /// - Parameter service: the short name.
    /// - Throws: ``RPCError`` NOT_FOUND, FAILED_PRECONDITION, ABORTED or UNAVAILABLE.
    func requestRestart(_ service: String) async throws -> StackRestartResult {
        guard !stopFlag.isSet else { throw Self.stoppingError }
        guard records[service] != nil else {
            throw RPCError(
                .notFound, reason: "SERVICE_NOT_FOUND",
                "no service named '\(service)' in the stack; it has: \(order.joined(separator: ", "))",
                details: ["service": .string(service)])
        }
        nextRequest += 1
        let request = nextRequest
        return try await withCheckedThrowingContinuation { reply in
            waitingRestarts[request] = reply
            post(.restart(request: request, service: service))
        }
    }

    /// Begins a graceful stop of the whole stack (used by `stack.stop`).
    /// - Returns: what will be stopped, in stop order.
    func requestStop() -> StackStopResult {
        let services = order.reversed().compactMap { name in records[name].map(status(of:)) }
        logger.notice("stop requested over RPC")
        stopFlag.set()
        post(.stop)
        return StackStopResult(supervisorPid: Int64(getpid()), services: services)
    }

    /// Every service's status, in start order.
    func status() -> StackStatusResult {
        StackStatusResult(
            supervisorPid: Int64(getpid()), uptimeMs: (clock.now - startedAt).milliseconds,
            home: configuration.directory.home.path, stopping: stopFlag.isSet,
            services: order.compactMap { records[$0].map(status(of:)) })
    }

    /// One service's status, as `stack.status` reports it.
    func status(of record: Record) -> StackServiceStatus {
        let name = record.spec.name
        return StackServiceStatus(
            name: name, state: record.state.rawValue, pid: record.child.map { Int64($0.pid) },
            restarts: record.restarts, lastExit: record.lastExit, lastError: record.lastError,
            uptimeMs: record.child == nil ? nil : record.startedAt.map { (clock.now - $0).milliseconds },
            nextRestartMs: record.state == .backoff ? record.nextRestartAt.map { max(0, ($0 - clock.now).milliseconds) } : nil,
            socket: configuration.directory.socketPath(for: name), log: configuration.directory.logPath(for: name))
    }

    static let stoppingError = RPCError.unavailable(
        "the stack is stopping; start it again with `hitl stack up` once it is down", reason: "STOPPING")
}

/// A flag set once, read from any thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)

    /// Whether a stop began.
    var isSet: Bool { value.load(ordering: .acquiring) }

    /// Marks the stop.
    func set() { value.store(true, ordering: .releasing) }
}

extension RunDirectory {
    /// `logs/<name>.log`: where a service's (or the supervisor's) output goes.
    /// - Parameter name: a service's short name, or `supervisor`.
    func logPath(for name: String) -> String {
        logs.appendingPathComponent("\(name).log").path
    }

    /// `run/stack.pid`: the running supervisor's process id.
    var supervisorPidPath: String { run.appendingPathComponent("stack.pid").path }

    /// The supervisor's socket, `run/stack.sock`.
    var supervisorSocket: String { socketPath(for: Supervisor.serviceName) }
}

extension Supervisor {
    /// The supervisor's own service name: socket `stack.sock`, methods `stack.*`.
    static let serviceName = "stack"
}
