import Foundation

/// What `stack.status` says about one service (`ServiceStatus` in
/// `Protocols/stack.openrpc.json`).
public struct StackServiceStatus: Codable, Sendable, Equatable {
    /// The short name.
    public var name: String
    /// One of ``SupervisedState``'s raw values.
    public var state: String
    /// The running process, if any.
    public var pid: Int64?
    /// Automatic restarts after unexpected exits.
    public var restarts: Int
    /// How the previous process ended.
    public var lastExit: ExitStatus?
    /// Why the last start failed.
    public var lastError: String?
    /// Milliseconds since the running process was started.
    public var uptimeMs: Int64?
    /// In BACKOFF: milliseconds until the next attempt.
    public var nextRestartMs: Int64?
    /// `run/<name>.sock`.
    public var socket: String
    /// `logs/<name>.log`.
    public var log: String

    enum CodingKeys: String, CodingKey {
        case name, state, pid, restarts, socket, log
        case lastExit = "last_exit"
        case lastError = "last_error"
        case uptimeMs = "uptime_ms"
        case nextRestartMs = "next_restart_ms"
    }
}

/// The `stack.status` result (`StackStatus` in the contract).
public struct StackStatusResult: Codable, Sendable, Equatable {
    /// The supervisor's process id.
    public var supervisorPid: Int64
    /// Milliseconds since the supervisor started.
    public var uptimeMs: Int64
    /// The stack's home folder.
    public var home: String
    /// True once a stop began.
    public var stopping: Bool
    /// Every service, in start order.
    public var services: [StackServiceStatus]

    enum CodingKeys: String, CodingKey {
        case home, stopping, services
        case supervisorPid = "supervisor_pid"
        case uptimeMs = "uptime_ms"
    }

    /// True when every service reports SERVING (or is skipped as not needed).
    public var allServing: Bool {
        services.allSatisfy { [SupervisedState.serving.rawValue, SupervisedState.skipped.rawValue].contains($0.state) }
    }
}

/// `stack.restart` params.
struct StackRestartParams: Codable, Sendable {
    /// The service's short name.
    let service: String
}

/// `stack.restart` result.
struct StackRestartResult: Codable, Sendable {
    /// The service's status once it is SERVING again.
    let service: StackServiceStatus
    /// The process that was stopped, if one was running.
    let previousPid: Int64?

    enum CodingKeys: String, CodingKey {
        case service
        case previousPid = "previous_pid"
    }
}

/// `stack.stop` result.
struct StackStopResult: Codable, Sendable {
    /// The supervisor's process id: it is gone once the stop is complete.
    let supervisorPid: Int64
    /// The services as they were when the stop began, in stop order.
    let services: [StackServiceStatus]

    enum CodingKeys: String, CodingKey {
        case services
        case supervisorPid = "supervisor_pid"
    }
}

/// The life cycle of one supervised service, as `stack.status` reports it.
public enum SupervisedState: String, Codable, Sendable {
    /// Not started yet: an earlier service has not reached SERVING.
    case pending = "PENDING"
    /// Started; waiting for it to report SERVING.
    case starting = "STARTING"
    /// Running and reporting SERVING.
    case serving = "SERVING"
    /// Running, but its last health check failed or reported NOT_SERVING.
    case notServing = "NOT_SERVING"
    /// Exited unexpectedly; a restart is scheduled.
    case backoff = "BACKOFF"
    /// Being stopped.
    case stopping = "STOPPING"
    /// Stopped by the supervisor.
    case stopped = "STOPPED"
    /// Exited on its own, and its restart policy is `never`.
    case exited = "EXITED"
    /// Could not be started; `last_error` says why.
    case failed = "FAILED"
    /// Not needed: one of its `unless_env` variables is set (`last_error` names it).
    case skipped = "SKIPPED"
}

/// How a process ended: an exit status or a signal.
public struct ExitStatus: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The exit status, when the process exited.
    public let code: Int32?
    /// The signal, when a signal ended it.
    public let signal: Int32?
    /// For people, e.g. `killed by signal 9 (Killed)`.
    public let description: String

    /// Decodes a `waitpid` status (the `WIFEXITED`/`WTERMSIG` macros are not
    /// imported into Swift, so the bit layout is spelled out here).
    /// - Parameter waitStatus: the status `waitpid` stored.
    public init(waitStatus: Int32) {
        let terminatingSignal = waitStatus & 0x7f
        if terminatingSignal == 0 {
            self.init(code: (waitStatus >> 8) & 0xff, signal: nil)
        } else {
            self.init(code: nil, signal: terminatingSignal)
        }
    }

    /// - Parameters:
    ///   - code: the exit status, if it exited.
    ///   - signal: the signal, if one ended it.
    public init(code: Int32?, signal: Int32?) {
        self.code = code
        self.signal = signal
        if let signal {
            let name = strsignal(signal).map { String(cString: $0) } ?? "unknown"
            description = "killed by signal \(signal) (\(name))"
        } else if let code {
            description = "exited with status \(code)"
        } else {
            description = "ended; its status is unknown"
        }
    }

    /// A process that was already reaped elsewhere, so its status is lost.
    public static let unknown = ExitStatus(code: nil, signal: nil)
}
