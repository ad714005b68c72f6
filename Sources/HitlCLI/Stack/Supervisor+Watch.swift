import Foundation
import Logging
import RPC

/// Health checks, watching running processes, and stopping.
extension Supervisor {
    /// How waiting for SERVING ended.
    enum ServingOutcome: Sendable {
        case serving
        case exited(ExitStatus)
        case timedOut
        case interrupted
    }

    /// Polls `health.check` until the child itself (not some other process on
    /// its socket) reports SERVING, it exits, the timeout passes, or a stop begins.
    nonisolated static func waitUntilServing(
        child: ChildProcess, socket: String, timeout: Duration, stopFlag: StopFlag
    ) async -> ServingOutcome {
        let client = RPCClient(path: socket)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var outcome = ServingOutcome.timedOut
        while clock.now < deadline {
            if stopFlag.isSet {
                outcome = .interrupted
                break
            }
            if let status = child.pollExit() {
                outcome = .exited(status)
                break
            }
            if let health = await probe(client), health.status == .serving, health.pid == Int64(child.pid) {
                outcome = .serving
                break
            }
            try? await Task.sleep(for: StackLimits.startPollInterval)
        }
        await client.close()
        return outcome
    }

    /// One `health.check`, no retries; nil when the service does not answer.
    nonisolated static func probe(_ client: RPCClient) async -> HealthResult? {
        let options = CallOptions(timeout: .milliseconds(StackLimits.healthCallTimeout.milliseconds), retryWindow: .zero)
        return try? await client.call("health.check", NoParams(), as: HealthResult.self, options: options)
    }

    /// Watches a running service until it exits (then reports it) or the watch
    /// is cancelled (a stop or restart); checks its health every `healthInterval`.
    nonisolated static func watch(
        _ supervisor: Supervisor, service: String, generation: Int, child: ChildProcess, socket: String,
        healthInterval: Duration
    ) async {
        let client = RPCClient(path: socket)
        let clock = ContinuousClock()
        var nextCheck = clock.now + healthInterval
        while !Task.isCancelled {
            if let status = child.pollExit() {
                supervisor.post(.exited(service: service, generation: generation, status: status))
                break
            }
            if clock.now >= nextCheck {
                let health = await probe(client)
                await supervisor.recordHealth(service, generation: generation, serving: health?.status == .serving)
                nextCheck = clock.now + healthInterval
            }
            try? await Task.sleep(for: StackLimits.exitPollInterval)
        }
        await client.close()
    }

    /// Notes a periodic health check of a running service. A service that stops
    /// answering is reported (NOT_SERVING), not killed: it may be busy, and the
    /// process exiting is what triggers a restart.
    func recordHealth(_ name: String, generation: Int, serving: Bool) {
        guard let record = records[name], record.generation == generation,
              [.serving, .notServing].contains(record.state)
        else { return }
        let state: SupervisedState = serving ? .serving : .notServing
        guard state != record.state else { return }
        records[name]!.state = state
        records[name]!.servingSince = serving ? clock.now : nil
        if serving {
            logger.notice("\(name) is SERVING again", metadata: ["service": "\(name)"])
        } else {
            logger.warning("\(name) failed its health check (NOT_SERVING or no answer)", metadata: ["service": "\(name)"])
        }
    }

    /// Stops one service: SIGTERM, then SIGKILL past the bound; removes its stale socket.
    func stopService(_ name: String) async {
        guard records[name] != nil else { return }
        records[name]!.generation += 1
        records[name]!.watcher?.cancel()
        records[name]!.timer?.cancel()
        records[name]!.watcher = nil
        records[name]!.timer = nil
        records[name]!.nextRestartAt = nil
        guard let child = records[name]!.child else {
            if ![.failed, .skipped].contains(records[name]!.state) { records[name]!.state = .stopped }
            return
        }
        records[name]!.state = .stopping
        logger.info("stopping \(name): SIGTERM", metadata: ["service": "\(name)", "pid": "\(child.pid)"])
        let (status, killed) = await child.terminate()
        if killed {
            logger.warning("\(name) did not stop within \(StackLimits.stopGracePeriod); sent SIGKILL", metadata: ["service": "\(name)", "pid": "\(child.pid)"])
        }
        records[name]!.child = nil
        records[name]!.lastExit = status
        records[name]!.servingSince = nil
        records[name]!.startedAt = nil
        records[name]!.state = .stopped
        removeStaleSocket(name)
        logger.info("\(name) stopped: it \(status.description)", metadata: ["service": "\(name)"])
    }

    /// Stops every service, in reverse start order.
    func stopAll() async {
        for name in order.reversed() {
            await stopService(name)
        }
    }

    /// Removes a service's socket file if nothing serves on it any more.
    func removeStaleSocket(_ name: String) {
        let path = configuration.directory.socketPath(for: name)
        if FileManager.default.fileExists(atPath: path), !SocketPath.isLive(path) { unlink(path) }
    }

    /// Stops services left running by an earlier supervisor that was killed:
    /// each live socket in run/ (other than the supervisor's own) is asked
    /// for its pid, and that process is stopped.
    func stopOrphans() async {
        let stopped = await OrphanSweeper.sweep(configuration.directory) { [logger] message in
            logger.warning("\(message)")
        }
        _ = OrphanSweeper.removeStaleSockets(in: configuration.directory)
        if !stopped.isEmpty {
            logger.warning("stopped \(stopped.count) service(s) left running by an earlier supervisor")
        }
    }
}
