import ArgumentParser
import Foundation
import RPC

extension Stack {
    /// `hitl stack down`
    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop every service gracefully, then the supervisor.",
            discussion: """
                Asks the supervisor to stop (stack.stop): services stop in reverse order, each \
                with SIGTERM and, if it takes longer than 15 s, SIGKILL. Waits until the \
                supervisor is gone, stops any service left running without a supervisor, \
                removes stale sockets, and checks that no socket is left in run/. Prints what \
                it stopped. Running it when the stack is down is harmless.

                Examples:
                  hitl stack down
                  HITL_HOME=/tmp/demo hitl stack down
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var stack: StackOptions

        /// How long stopping `servicesCount` services may take, one after another.
        static func bound(servicesCount: Int) -> Duration {
            (StackLimits.stopGracePeriod + StackLimits.killWait) * max(servicesCount, 1) + StackLimits.downMargin
        }

        func run() async throws {
            let connection = StackConnection(global: global)
            let directory = connection.directory
            let count = (try? stack.load().definition.services.count) ?? OrphanSweeper.serviceSockets(in: directory).count
            let bound = Self.bound(servicesCount: count)
            var report: [String] = []
            if connection.isRunning {
                report += try await stopSupervisor(connection, bound: bound)
            } else if let pid = Self.supervisorPid(in: directory) {
                report.append("stopped the supervisor (pid \(pid)), which was not answering on its socket")
                guard await ProcessProbe.terminate(pid, grace: bound) else {
                    Output.err("error: the supervisor (pid \(pid)) is still running after SIGKILL")
                    throw HitlExit.rpcError.exitCode
                }
            }
            let orphans = await OrphanSweeper.sweep(directory) { Output.err($0) }
            report += orphans.map { "stopped \($0), which had no supervisor" }
            report += OrphanSweeper.removeStaleSockets(in: directory).map { "removed the stale socket \($0)" }
            if Self.supervisorPid(in: directory) == nil { unlink(directory.supervisorPidPath) }
            let left = ((try? FileManager.default.contentsOfDirectory(atPath: directory.run.path)) ?? [])
                .filter { $0.hasSuffix(".sock") }
            guard left.isEmpty else {
                Output.err("error: still serving in \(directory.run.path): \(left.joined(separator: ", ")); see `hitl stack logs <service>`")
                throw HitlExit.rpcError.exitCode
            }
            if global.json {
                Output.out(try JSONValue(encoding: ["stopped": report]).jsonText())
            } else {
                Output.out(report.isEmpty ? "the stack is not running; nothing to stop" : report.joined(separator: "\n"))
            }
        }

        /// stack.stop, then waits until the supervisor process is gone.
        private func stopSupervisor(_ connection: StackConnection, bound: Duration) async throws -> [String] {
            let result = try await connection.reporting {
                try await connection.call("stack.stop", NoParams(), as: StackStopResult.self)
            }
            let pid = pid_t(result.supervisorPid)
            guard await ProcessProbe.waitUntilGone(pid, timeout: bound) else {
                Output.err("error: the supervisor (pid \(pid)) is still stopping after \(bound); see \(connection.directory.logPath(for: "supervisor")), or `kill -9 \(pid)`")
                throw HitlExit.rpcError.exitCode
            }
            let services = result.services.compactMap { service in service.pid.map { "stopped \(service.name) (pid \($0))" } }
            return services + ["stopped the supervisor (pid \(pid))"]
        }

        /// The pid in run/stack.pid, if that process is alive and is a supervisor.
        static func supervisorPid(in directory: RunDirectory) -> pid_t? {
            guard let text = try? String(contentsOfFile: directory.supervisorPidPath, encoding: .utf8),
                  let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), ProcessProbe.isAlive(pid),
                  let commandLine = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
            else { return nil }
            // Guard against a recycled pid: the process must be `hitl stack supervise`.
            let words = commandLine.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.contains("supervise") && words.contains("stack") ? pid : nil
        }
    }
}
