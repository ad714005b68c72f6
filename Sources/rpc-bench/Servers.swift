import CPingPong
import Foundation
import RPCTesting

/// The three servers of one run, each in its own process.
struct Servers {
    let rpc: ChildServer
    let c: ChildServer
    let floor: ChildServer
    let python: ChildServer?
    let pythonVersion: String?
    let notes: [String]

    /// The baselines, C first, then the NIO floor and Python.
    var baselines: [(ServerKind, ChildServer)] {
        [(.c, c), (.nioFloor, floor)] + (python.map { [(.python, $0)] } ?? [])
    }

    /// Starts the RPC server on `home`'s echo socket, the C ping-pong and, unless
    /// asked not to or missing, the Python server, all in `home`'s run folder.
    /// - Throws: ``BenchError`` when a server cannot start.
    static func start(
        in home: TestHome, echo: (executable: String, arguments: [String], label: String), python wantPython: Bool
    ) async throws -> Servers {
        let run = home.directory.run.path
        let logs = home.directory.logs.path
        let rpc = try await ChildServer.launch(
            echo.label, executable: echo.executable,
            arguments: echo.arguments + ["--home", home.directory.home.path, "--log-level", "warning"],
            socket: home.socket("echo"), logPath: "\(logs)/echo.log")
        try await waitUntilServing(rpc)
        let c = try await ChildServer.launch(
            "C ping-pong", executable: ServerLocator.ownExecutable, arguments: ["serve-c", "--socket", "\(run)/c.sock"],
            socket: "\(run)/c.sock", logPath: "\(logs)/c.log")
        let floor = try await ChildServer.launch(
            "NIO floor", executable: ServerLocator.ownExecutable, arguments: ["serve-nio", "--socket", "\(run)/nio.sock"],
            socket: "\(run)/nio.sock", logPath: "\(logs)/nio.log")
        var notes: [String] = []
        var python: ChildServer?
        var version: String?
        if !wantPython {
            notes.append("Python baseline skipped (--no-python)")
        } else if let interpreter = PythonServer.findInterpreter() {
            python = try await ChildServer.launch(
                "Python json server", executable: interpreter, arguments: ["-c", PythonServer.script, "\(run)/py.sock"],
                socket: "\(run)/py.sock", logPath: "\(logs)/python.log")
            version = "\(interpreter) \(pythonVersion(interpreter))"
        } else {
            notes.append("Python baseline skipped: no python3 on PATH")
        }
        return Servers(rpc: rpc, c: c, floor: floor, python: python, pythonVersion: version, notes: notes)
    }

    /// Stops every server.
    func stop() {
        rpc.stop()
        c.stop()
        floor.stop()
        python?.stop()
    }

    /// The socket listens once bound; the server reports SERVING a moment later.
    private static func waitUntilServing(_ server: ChildServer) async throws {
        let health = Workload.healthCheck()
        for _ in 0..<200 {
            if let answer = try? BlockingDriver.answer(health.line, socket: server.socket), health.accepts(answer) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw BenchError("\(server.label) did not report SERVING within 2 s:\n\(server.log)")
    }

    private static func pythonVersion(_ interpreter: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter)
        process.arguments = ["-c", "import platform; print(platform.python_version())"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "(version unknown)" }
        process.waitUntilExit()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
