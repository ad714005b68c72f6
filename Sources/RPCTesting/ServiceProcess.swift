import Foundation
import RPC

/// Finds the project's built executables: `$HITL_BIN`, else the folder of the
/// running test binary (SwiftPM puts executables and test bundles together).
public enum Executables {
    /// The folder holding the built executables.
    public static var folder: String {
        if let bin = ProcessInfo.processInfo.environment["HITL_BIN"], !bin.isEmpty { return bin }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // Inside a test bundle (…/hitlPackageTests.xctest/…): step out of it.
        while url.path.contains(".xctest") { url.deleteLastPathComponent() }
        return url.path
    }

    /// The path of an executable such as `echo-svc`.
    /// - Parameter name: the executable's name.
    public static func path(_ name: String) -> String {
        URL(fileURLWithPath: folder).appendingPathComponent(name).path
    }
}

/// A real service executable started by a test, on a test home.
public final class ServiceProcess: Sendable {
    /// The service's short name.
    public let service: String
    /// The running process.
    public let process: Process
    /// Where its stderr (its log) goes.
    public let logPath: String

    private init(service: String, process: Process, logPath: String) {
        self.service = service
        self.process = process
        self.logPath = logPath
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Starts `executable --home <home> <arguments>` and waits until it is SERVING.
    /// - Parameters:
    ///   - executable: e.g. `echo-svc`.
    ///   - service: its short name (for the socket).
    ///   - home: the test home.
    ///   - arguments: extra arguments.
    ///   - environment: extra environment variables.
    ///   - timeout: how long start-up may take.
    /// - Throws: when the process exits or does not serve in time (its log is included).
    public static func launch(
        _ executable: String, service: String, home: TestHome, arguments: [String] = [],
        environment: [String: String] = [:], timeout: Duration = .seconds(20)
    ) async throws -> ServiceProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path(executable))
        process.arguments = ["--home", home.directory.home.path] + arguments
        // A test process that ends before its clean-up ran must not leave this service behind
        // (ServiceKit's ServiceMain.exitWithParentVariable).
        process.environment = ProcessInfo.processInfo.environment
            .merging(["HITL_EXIT_WITH_PARENT": "1"]) { $1 }.merging(environment) { $1 }
        let logPath = home.directory.logs.appendingPathComponent("\(service).log").path
        try home.directory.prepare()
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try log.seekToEnd()
        process.standardError = log
        process.standardOutput = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let launched = ServiceProcess(service: service, process: process, logPath: logPath)
        try await launched.waitUntilServing(socket: home.socket(service), timeout: timeout)
        return launched
    }

    /// Polls `health.check` until SERVING.
    /// - Parameters:
    ///   - socket: the service's socket.
    ///   - timeout: how long to wait.
    /// - Throws: with the service's log when it exits or times out.
    public func waitUntilServing(socket: String, timeout: Duration = .seconds(20)) async throws {
        let client = RPCClient(path: socket)
        defer { Task { await client.close() } }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            guard process.isRunning else {
                throw RunDirectoryError("\(service) exited with status \(process.terminationStatus) during start-up:\n\(log)")
            }
            if let health = try? await client.call("health.check", NoParams(), as: HealthResult.self, options: .init(timeout: .seconds(1))),
               health.status == .serving {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RunDirectoryError("\(service) did not report SERVING within \(timeout):\n\(log)")
    }

    /// The service's log so far.
    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "(no log)"
    }

    /// Sends SIGTERM and waits for the process to exit.
    /// - Returns: its exit status.
    @discardableResult
    public func terminate(timeout: Duration = .seconds(15)) async -> Int32 {
        if process.isRunning { kill(pid, SIGTERM) }
        return await waitForExit(timeout: timeout)
    }

    /// Sends SIGKILL (a crash) and waits for the process to be gone.
    public func kill9() async {
        if process.isRunning { kill(pid, SIGKILL) }
        _ = await waitForExit(timeout: .seconds(10))
    }

    private func waitForExit(timeout: Duration) async -> Int32 {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning, clock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning {
            kill(pid, SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
        return process.terminationStatus
    }
}
