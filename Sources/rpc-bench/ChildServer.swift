import CPingPong
import Foundation
import RPC
import Synchronization

/// A server the benchmark runs in its own process, so its cost and the
/// client's are not mixed in one process.
final class ChildServer {
    /// What it is, for messages.
    let label: String
    /// Its socket.
    let socket: String
    private let process: Process
    private let logPath: String

    /// Servers still running, stopped when the benchmark is interrupted.
    private static let running = Mutex<[Int32: Process]>([:])

    private init(label: String, socket: String, process: Process, logPath: String) {
        self.label = label
        self.socket = socket
        self.process = process
        self.logPath = logPath
    }

    /// Starts `executable arguments`, logging to `logPath`, and waits until
    /// `socket` accepts connections.
    /// - Throws: ``BenchError`` with the server's log when it exits or does not listen in time.
    static func launch(
        _ label: String, executable: String, arguments: [String], socket: String, logPath: String,
        timeout: Duration = .seconds(20)
    ) async throws -> ChildServer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        running.withLock { $0[process.processIdentifier] = process }
        let server = ChildServer(label: label, socket: socket, process: process, logPath: logPath)
        try await server.waitUntilListening(timeout: timeout)
        return server
    }

    private func waitUntilListening(timeout: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            guard process.isRunning else {
                throw BenchError("\(label) exited with status \(process.terminationStatus) during start-up:\n\(log)")
            }
            if SocketPath.isLive(socket) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        stop()
        throw BenchError("\(label) did not listen on \(socket) within \(timeout):\n\(log)")
    }

    /// Its process id.
    var pid: Int32 { process.processIdentifier }

    /// CPU time the server process has used so far, all threads (ended ones
    /// included), in nanoseconds; 0 when it cannot be read.
    var cpuNanoseconds: Int64 {
        var clock = clockid_t()
        guard clock_getcpuclockid(process.processIdentifier, &clock) == 0 else { return 0 }
        var used = timespec()
        guard clock_gettime(clock, &used) == 0 else { return 0 }
        return Int64(used.tv_sec) * 1_000_000_000 + Int64(used.tv_nsec)
    }

    /// The server's log so far.
    var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "(no log)"
    }

    /// SIGTERM, then SIGKILL if it has not exited after 5 s.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = monotonicNanoseconds() + 5_000_000_000
        while process.isRunning, monotonicNanoseconds() < deadline { usleep(5_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        _ = Self.running.withLock { $0.removeValue(forKey: process.processIdentifier) }
    }

    /// On SIGINT or SIGTERM, stops every running server, then exits.
    static func stopAllOnSignals() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                let pids = running.withLock { Array($0.keys) }
                for pid in pids { kill(pid, SIGTERM) }
                FileHandle.standardError.write(Data("rpc-bench: interrupted; servers stopped\n".utf8))
                exit(130)
            }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Keeps the signal sources alive for the life of the process. Written only by
    /// `stopAllOnSignals`, once, at start-up, before any other task runs.
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []
}

/// Where the benchmark finds its servers.
enum ServerLocator {
    /// This executable.
    static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// How to run the RPC server: `echo-svc` next to rpc-bench when it is at
    /// least as new as rpc-bench, else rpc-bench's own `serve-echo` (the same
    /// code as echo-svc: EchoService on ServiceKit), so a stale echo-svc is
    /// never measured by accident.
    /// - Parameter explicit: `--server`, when given.
    /// - Returns: the executable, the arguments before `--home`, and a description.
    static func echoServer(explicit: String?) -> (executable: String, arguments: [String], label: String) {
        if let explicit { return (explicit, [], explicit) }
        let own = ownExecutable
        let sibling = URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent("echo-svc").path
        if let siblingDate = modified(sibling), let ownDate = modified(own), siblingDate >= ownDate {
            return (sibling, [], "echo-svc next to rpc-bench")
        }
        let why = modified(sibling) == nil ? "no echo-svc next to rpc-bench" : "echo-svc next to rpc-bench is older than rpc-bench"
        return (own, ["serve-echo"], "rpc-bench serve-echo (echo-svc's code; \(why))")
    }

    private static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
