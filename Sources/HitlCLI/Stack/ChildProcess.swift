import CSpawn
import Foundation
import Synchronization

/// What to start and where its output goes.
struct SpawnRequest: Sendable {
    /// The executable's absolute path.
    var executable: String
    /// The arguments after the executable's name.
    var arguments: [String]
    /// The whole environment of the child.
    var environment: [String: String]
    /// stdout and stderr are appended here (created 0600 if missing); stdin is /dev/null.
    var outputPath: String
    /// Start a new session (setsid), so the child survives the terminal and shell.
    var newSession = false
}

/// A process this process started with `posix_spawn`, and reaps.
///
/// The child starts with default signal dispositions and an empty signal mask
/// (whatever this process ignores or blocks, it does not), no descriptors but
/// 0, 1 and 2, stdin on /dev/null and stdout+stderr appended to a file.
///
/// Only this object calls `waitpid` for its pid, under its lock, and it never
/// signals a pid it has reaped, so a recycled pid is never hit.
final class ChildProcess: Sendable {
    /// The child's process id.
    let pid: pid_t
    /// nil while the child runs; its exit once reaped.
    private let reaped = Mutex<ExitStatus?>(nil)

    private init(pid: pid_t) { self.pid = pid }

    /// Starts a process.
    /// - Parameter request: what to run and where its output goes.
    /// - Returns: the running child.
    /// - Throws: ``SpawnError`` naming the executable and the system's reason.
    static func spawn(_ request: SpawnRequest) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        try check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "redirect stdin")
        try check(posix_spawn_file_actions_addopen(
            &actions, 1, request.outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o600), "redirect stdout")
        try check(posix_spawn_file_actions_adddup2(&actions, 1, 2), "redirect stderr")
        try check(c_spawn_file_actions_addclosefrom(&actions, 3), "close inherited descriptors")

        var everySignal = sigset_t()
        sigfillset(&everySignal)
        var noSignal = sigset_t()
        sigemptyset(&noSignal)
        try check(posix_spawnattr_setsigdefault(&attributes, &everySignal), "reset signal handlers")
        try check(posix_spawnattr_setsigmask(&attributes, &noSignal), "clear the signal mask")
        var flags = Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        if request.newSession { flags |= c_spawn_flag_setsid() }
        try check(posix_spawnattr_setflags(&attributes, flags), "set spawn flags")

        let argv = CStringArray([request.executable] + request.arguments)
        let envp = CStringArray(request.environment.map { "\($0.key)=\($0.value)" }.sorted())
        defer {
            argv.free()
            envp.free()
        }
        var pid = pid_t()
        let result = posix_spawn(&pid, request.executable, &actions, &attributes, argv.pointers, envp.pointers)
        guard result == 0 else {
            throw SpawnError("cannot start \(request.executable): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid)
    }

    /// The child's exit if it has ended (reaping it), nil while it runs. Never blocks.
    func pollExit() -> ExitStatus? {
        reaped.withLock { state in
            if let state { return state }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                state = ExitStatus(waitStatus: status)
            } else if result < 0, errno == ECHILD {
                state = .unknown  // reaped by someone else: gone, status lost
            }
            return state
        }
    }

    /// Sends a signal unless the child has already been reaped.
    /// - Parameter signal: e.g. `SIGTERM`.
    /// - Returns: whether it was sent.
    @discardableResult
    func send(_ signal: Int32) -> Bool {
        reaped.withLock { state in
            guard state == nil else { return false }
            return kill(pid, signal) == 0
        }
    }

    /// Waits (polling) until the child has ended.
    /// - Parameter timeout: how long to wait.
    /// - Returns: its exit, or nil if it still runs.
    func waitForExit(timeout: Duration) async -> ExitStatus? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            if let status = pollExit() { return status }
            guard clock.now < deadline else { return nil }
            try? await Task.sleep(for: StackLimits.exitPollInterval)
        }
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL and wait for the kernel.
    /// - Parameter grace: how long the child may take to stop by itself.
    /// - Returns: how it ended, and whether it had to be killed.
    func terminate(grace: Duration = StackLimits.stopGracePeriod) async -> (status: ExitStatus, killed: Bool) {
        send(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return (status, false) }
        send(SIGKILL)
        return (await waitForExit(timeout: StackLimits.killWait) ?? .unknown, true)
    }

    private static func check(_ result: Int32, _ step: String) throws {
        guard result == 0 else { throw SpawnError("cannot \(step) for a new process: \(String(cString: strerror(result)))") }
    }
}

/// Why a process could not be started.
struct SpawnError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A NULL-terminated array of C strings for `argv` and `envp`, freed explicitly.
private struct CStringArray {
    let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    func free() {
        for pointer in pointers { Foundation.free(pointer) }
    }
}

/// Questions about processes this process did not start (and so cannot reap).
enum ProcessProbe {
    /// Whether a process exists and has not exited. A zombie (exited, waiting for
    /// its parent to reap it) counts as gone.
    /// - Parameter pid: the process id.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0, errno == ESRCH { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let nameEnd = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[nameEnd...].dropFirst(2).first
        return state != "Z" && state != "X"
    }

    /// Waits until a process is gone.
    /// - Parameters:
    ///   - pid: the process id.
    ///   - timeout: how long to wait.
    /// - Returns: true once it is gone; false if it still runs at the deadline.
    static func waitUntilGone(_ pid: pid_t, timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while isAlive(pid) {
            guard clock.now < deadline else { return false }
            try? await Task.sleep(for: StackLimits.exitPollInterval)
        }
        return true
    }

    /// Stops a process that is not our child: SIGTERM, wait up to `grace`, SIGKILL.
    /// - Parameters:
    ///   - pid: the process id.
    ///   - grace: how long it may take to stop by itself.
    /// - Returns: true once it is gone.
    static func terminate(_ pid: pid_t, grace: Duration = StackLimits.stopGracePeriod) async -> Bool {
        guard isAlive(pid) else { return true }
        kill(pid, SIGTERM)
        if await waitUntilGone(pid, timeout: grace) { return true }
        kill(pid, SIGKILL)
        return await waitUntilGone(pid, timeout: StackLimits.killWait)
    }
}
