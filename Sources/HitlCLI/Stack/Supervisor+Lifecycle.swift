import Foundation
import Logging
import RPC

/// Starting, watching, restarting and stopping services.
extension Supervisor {
    /// How one start attempt ended.
    enum StartResult: Equatable {
        case serving
        case failed(String)
        /// A stop began while waiting; the process is left for `stopAll`.
        case interrupted
    }

    /// Starts, in order, every service still PENDING; stops at the first that fails.
    func startPending() async {
        for name in order where records[name]?.state == .pending {
            guard !stopFlag.isSet else { return }
            if let reason = records[name]?.spec.skipReason(in: configuration.environment) {
                records[name]!.state = .skipped
                records[name]!.lastError = reason
                logger.notice("\(name) is not started: \(reason)", metadata: ["service": "\(name)"])
                continue
            }
            switch await start(name) {
            case .serving:
                continue
            case .failed:
                let waiting = order.filter { records[$0]?.state == .pending }
                if !waiting.isEmpty {
                    logger.error("services not started because \(name) failed: \(waiting.joined(separator: ", ")); fix the cause, then run `hitl stack restart \(name)`")
                }
                return
            case .interrupted:
                return
            }
        }
    }

    /// Starts one service and waits until it reports SERVING (or fails).
    func start(_ name: String) async -> StartResult {
        guard let spec = records[name]?.spec else { return .failed("unknown service \(name)") }
        records[name]!.generation += 1
        let generation = records[name]!.generation
        records[name]!.state = .starting
        records[name]!.lastError = nil
        let log = configuration.directory.logPath(for: name)
        let executable = spec.executable.hasPrefix("/")
            ? spec.executable : URL(fileURLWithPath: configuration.binFolder).appendingPathComponent(spec.executable).path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            return fail(name, "there is no executable \(executable); build it with `swift build` (scripts/stack does), or set HITL_BIN to the folder holding it")
        }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(spawnRequest(for: spec, executable: executable, log: log))
        } catch {
            return fail(name, "\(error)")
        }
        records[name]!.child = child
        records[name]!.startedAt = clock.now
        logger.info("started \(name)", metadata: ["service": "\(name)", "pid": "\(child.pid)", "executable": "\(executable)"])

        let timeout = Duration.milliseconds(spec.health.startTimeoutMs)
        let outcome = await Self.waitUntilServing(
            child: child, socket: configuration.directory.socketPath(for: name), timeout: timeout, stopFlag: stopFlag)
        guard records[name]?.generation == generation else { return .interrupted }
        switch outcome {
        case .serving:
            return serving(name, child: child, generation: generation)
        case .exited(let status):
            records[name]!.child = nil
            records[name]!.lastExit = status
            return fail(name, "it \(status.description) during start-up; see \(log)")
        case .timedOut:
            logger.error("\(name) did not report SERVING within \(spec.health.startTimeoutMs) ms; stopping it", metadata: ["service": "\(name)", "pid": "\(child.pid)"])
            let (status, _) = await child.terminate()
            records[name]!.child = nil
            records[name]!.lastExit = status
            removeStaleSocket(name)
            return fail(name, "it did not report SERVING within health.start_timeout_ms (\(spec.health.startTimeoutMs) ms), so it was stopped; see \(log)")
        case .interrupted:
            return .interrupted
        }
    }

    private func serving(_ name: String, child: ChildProcess, generation: Int) -> StartResult {
        let now = clock.now
        records[name]!.state = .serving
        records[name]!.servingSince = now
        let took = records[name]!.startedAt.map { (now - $0).milliseconds } ?? 0
        logger.notice("\(name) is SERVING", metadata: ["service": "\(name)", "pid": "\(child.pid)", "start_ms": "\(took)"])
        let socket = configuration.directory.socketPath(for: name)
        let interval = Duration.milliseconds(max(records[name]!.spec.health.intervalMs, 100))
        records[name]!.watcher = Task { [self] in
            await Self.watch(self, service: name, generation: generation, child: child, socket: socket, healthInterval: interval)
        }
        return .serving
    }

    private func fail(_ name: String, _ reason: String) -> StartResult {
        records[name]!.state = .failed
        records[name]!.lastError = reason
        records[name]!.startedAt = nil
        logger.error("\(name) could not be started: \(reason)", metadata: ["service": "\(name)"])
        return .failed(reason)
    }

    /// The child's command line, environment and log. Environment values are
    /// never logged: they may hold API keys.
    private func spawnRequest(for spec: StackDefinition.ServiceSpec, executable: String, log: String) -> SpawnRequest {
        var environment = configuration.environment.merging(spec.env) { $1 }
        environment["HITL_HOME"] = configuration.directory.home.path
        return SpawnRequest(
            executable: executable, arguments: ["--home", configuration.directory.home.path] + spec.arguments,
            environment: environment, outputPath: log)
    }

    /// A watched process ended: unexpected unless a stop or restart bumped its generation.
    func handleExit(_ name: String, generation: Int, status: ExitStatus) {
        guard let record = records[name], record.generation == generation, record.child != nil else { return }
        let healthyFor = record.servingSince.map { clock.now - $0 }
        records[name]!.child = nil
        records[name]!.watcher = nil
        records[name]!.lastExit = status
        records[name]!.servingSince = nil
        records[name]!.startedAt = nil
        removeStaleSocket(name)
        guard record.spec.restart.policy == "always" else {
            records[name]!.state = .exited
            logger.warning("\(name) \(status.description); its restart policy is 'never', so it stays down", metadata: ["service": "\(name)"])
            return
        }
        scheduleRestart(name, because: "\(status.description) unexpectedly", healthyFor: healthyFor)
    }

    /// Puts a service in BACKOFF and queues its restart after the pause.
    func scheduleRestart(_ name: String, because reason: String, healthyFor: Duration?) {
        guard !stopFlag.isSet, records[name] != nil else { return }
        let delay = records[name]!.backoff.delay(afterHealthyFor: healthyFor)
        let generation = records[name]!.generation
        records[name]!.state = .backoff
        records[name]!.nextRestartAt = clock.now + delay
        logger.warning("\(name) \(reason); restarting in \(delay.milliseconds) ms", metadata: [
            "service": "\(name)", "restart": "\(records[name]!.restarts + 1)",
        ])
        records[name]!.timer = Task { [self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            post(.backoffElapsed(service: name, generation: generation))
        }
    }

    /// The restart pause is over: start the service again.
    func restartAfterBackoff(_ name: String, generation: Int) async {
        guard let record = records[name], record.generation == generation, record.state == .backoff, !stopFlag.isSet else { return }
        records[name]!.restarts += 1
        records[name]!.timer = nil
        records[name]!.nextRestartAt = nil
        logger.notice("restarting \(name)", metadata: ["service": "\(name)", "restart": "\(records[name]!.restarts)"])
        switch await start(name) {
        case .serving:
            await startPending()
        case .failed(let reason):
            scheduleRestart(name, because: "failed to restart (\(reason))", healthyFor: nil)
        case .interrupted:
            return
        }
    }

    /// An operator's restart: stop, start, answer, then start anything still PENDING.
    func performRestart(request: Int, service name: String) async {
        guard let reply = waitingRestarts.removeValue(forKey: request) else { return }
        guard let record = records[name] else { return reply.resume(throwing: RPCError.internalError()) }
        if record.state == .skipped {
            return reply.resume(throwing: RPCError(
                .failedPrecondition, reason: "SERVICE_SKIPPED", "\(name) is not part of this stack: \(record.lastError ?? "skipped")"))
        }
        let blocked = record.spec.dependsOn.filter { ![.serving, .skipped].contains(records[$0]?.state) }
        guard blocked.isEmpty else {
            return reply.resume(throwing: RPCError(
                .failedPrecondition, reason: "DEPENDENCY_NOT_SERVING",
                "\(name) depends on \(blocked.joined(separator: ", ")), which is not SERVING; restart that first"))
        }
        let previous = record.child.map { Int64($0.pid) }
        logger.notice("restart of \(name) requested", metadata: ["service": "\(name)"])
        await stopService(name)
        records[name]!.backoff.reset()
        switch await start(name) {
        case .serving:
            reply.resume(returning: StackRestartResult(service: status(of: records[name]!), previousPid: previous))
            await startPending()
        case .failed(let reason):
            reply.resume(throwing: RPCError(.aborted, reason: "START_FAILED", "\(name) did not come back: \(reason)"))
        case .interrupted:
            reply.resume(throwing: Self.stoppingError)
        }
    }
}
