import Foundation
import RPCTesting

/// Runs the real `hitl` executable, as a user or a script would.
struct HitlRunner {
    /// What one run printed and how it exited.
    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String

        /// For failure messages.
        var transcript: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
    }

    /// The repository root, found from this file's path (Tests/HitlTests/…).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The repository's stack definition.
    static let compose = repositoryRoot.appendingPathComponent("compose/stack.json").path

    /// The home every run points at (HITL_HOME).
    let home: TestHome

    /// The folder given as XDG_CONFIG_HOME, so the pointer a started stack writes
    /// (`hitl/home`) lands in the test's home, never in the developer's ~/.config.
    var configFolder: String { home.directory.home.appendingPathComponent("config").path }

    /// Runs `hitl <arguments>` with HITL_HOME, HITL_COMPOSE, HITL_BIN and
    /// XDG_CONFIG_HOME set, and waits for it to exit. stdout and stderr go through
    /// files, so a detached grandchild (the supervisor) can never hold a pipe open.
    /// A developer's own model settings (OPENAI_API_KEY, ...) are removed: tests use
    /// the simulator unless `environment` says otherwise.
    /// - Parameters:
    ///   - arguments: after `hitl`.
    ///   - input: standard input (none: /dev/null).
    ///   - environment: extra variables.
    ///   - unsetting: variables to remove last (HITL_HOME, say, to run as a user without it).
    ///   - folder: the working directory (nil: this process's).
    func run(
        _ arguments: [String], input: String? = nil, environment extra: [String: String] = [:], unsetting: [String] = [],
        in folder: String? = nil
    ) async throws -> Outcome {
        let scratch = home.directory.home.appendingPathComponent("cli-\(UUID().uuidString.prefix(8))")
        let outPath = scratch.path + ".out"
        let errPath = scratch.path + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("hitl"))
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for name in ["OPENAI_API_KEY", "OPENAI_BASE_URL", "HITL_LLM_UNIX_SOCKET", "HITL_MODEL", "HITL_LLM_API", "HITL_LLM_STREAM"] {
            environment[name] = nil
        }
        environment["XDG_CONFIG_HOME"] = configFolder
        environment.merge(extra) { $1 }
        environment["HITL_HOME"] = home.directory.home.path
        environment["HITL_COMPOSE"] = Self.compose
        environment["HITL_BIN"] = Executables.folder
        environment["HITL_GATEWAY_PORT"] = "0"  // the stack's gateway on any free port, not 8765
        for name in unsetting { environment[name] = nil }
        process.environment = environment
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        if let input {
            let inPath = scratch.path + ".in"
            try Data(input.utf8).write(to: URL(fileURLWithPath: inPath))
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                done.resume()
            }
        }
        return Outcome(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}
