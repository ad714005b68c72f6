import Foundation
import RPC

/// Finds and stops services that outlived their supervisor (it was killed
/// with SIGKILL, so it could not stop them), and removes stale sockets.
enum OrphanSweeper {
    /// Every `*.sock` in run/ except the supervisor's own.
    /// - Parameter directory: the stack's home.
    static func serviceSockets(in directory: RunDirectory) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.run.path)) ?? []
        return names.filter { $0.hasSuffix(".sock") && $0 != "\(Supervisor.serviceName).sock" }.sorted()
            .map { directory.run.appendingPathComponent($0).path }
    }

    /// Stops the process behind every live service socket in run/.
    /// - Parameters:
    ///   - directory: the stack's home.
    ///   - report: told about each one found, for the log or the terminal.
    /// - Returns: what was stopped, as `name (pid N)`.
    static func sweep(_ directory: RunDirectory, report: @Sendable (String) -> Void) async -> [String] {
        var stopped: [String] = []
        for socket in serviceSockets(in: directory) where SocketPath.isLive(socket) {
            let client = RPCClient(path: socket)
            let health = await Supervisor.probe(client)
            await client.close()
            guard let health, health.pid > 0, health.pid != Int64(getpid()) else {
                report("\(socket) accepts connections but does not answer health.check; stop the process behind it by hand (`fuser \(socket)`)")
                continue
            }
            let label = "\(health.service) (pid \(health.pid))"
            report("found \(label) still serving on \(socket) without a supervisor; stopping it")
            if await ProcessProbe.terminate(pid_t(health.pid)) {
                stopped.append(label)
            } else {
                report("\(label) is still running after SIGKILL; it may be stuck in the kernel")
            }
        }
        return stopped
    }

    /// Removes every socket in run/ that nothing serves on.
    /// - Parameter directory: the stack's home.
    /// - Returns: the paths removed.
    static func removeStaleSockets(in directory: RunDirectory) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.run.path)) ?? []
        var removed: [String] = []
        for name in names where name.hasSuffix(".sock") {
            let path = directory.run.appendingPathComponent(name).path
            if !SocketPath.isLive(path), unlink(path) == 0 { removed.append(path) }
        }
        return removed
    }
}
