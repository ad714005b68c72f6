import ArgumentParser
import Foundation

extension Stack {
    /// `hitl stack logs SERVICE [-n N] [-f]`
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a service's log (logs/<service>.log); -f follows it.",
            discussion: """
                Each service's stdout and stderr go to <home>/logs/<service>.log, and the \
                supervisor's to logs/supervisor.log (name it as `supervisor`). Works whether or \
                not the stack is running. Stop following with Ctrl-C.

                Examples:
                  hitl stack logs echo
                  hitl stack logs echo -n 50 -f
                  hitl stack logs supervisor -n 20
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "A service of compose/stack.json, or `supervisor`.")
        var service: String

        @Flag(name: .shortAndLong, help: "Keep printing what is appended, until interrupted.")
        var follow = false

        @Option(name: [.customShort("n"), .customLong("lines")], help: ArgumentHelp("Print only the last N lines.", valueName: "N"))
        var lines: Int?

        func validate() throws {
            if let lines, !(0...StackLimits.maximumLogLines).contains(lines) {
                throw ValidationError("-n must be between 0 and \(StackLimits.maximumLogLines)")
            }
            guard service.range(of: "^[a-z][a-z0-9_]{0,30}$", options: .regularExpression) != nil else {
                throw ValidationError("'\(service)' is not a service name: lowercase letters, digits or '_'")
            }
        }

        func run() async throws {
            let directory = global.directory
            let path = directory.logPath(for: service)
            guard FileManager.default.fileExists(atPath: path) else {
                if let known = await KnownServices.names(global), !known.contains(service), service != "supervisor" {
                    throw ValidationError(KnownServices.unknown(service, known: known.filter { $0 != Supervisor.serviceName } + ["supervisor"]))
                }
                let known = ((try? FileManager.default.contentsOfDirectory(atPath: directory.logs.path)) ?? [])
                    .filter { $0.hasSuffix(".log") }.map { String($0.dropLast(4)) }.sorted()
                Output.err("error: no log for '\(service)' at \(path); logs there: \(known.isEmpty ? "none (has the stack run in \(directory.home.path)?)" : known.joined(separator: ", "))")
                throw HitlExit.rpcError.exitCode
            }
            var offset: UInt64
            if let lines {
                offset = LogTail.size(of: path)
                let text = LogTail.lastLines(of: path, count: lines)
                if !text.isEmpty { Output.out(text) }
            } else {
                offset = LogTail.copy(path)
            }
            guard follow else { return }
            if offset > LogTail.size(of: path) { offset = 0 }
            try await LogTail.follow(path, from: offset)
        }
    }
}
