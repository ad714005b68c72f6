import Foundation
import RPCTesting

/// Instructions per round trip, counted by valgrind's callgrind: the one figure of the
/// benchmark that the machine's other load does not move. Client and server each run
/// in their own `rpc-count` process under callgrind; after the warm-up both counters
/// are zeroed (`callgrind_control -z`), the client makes its round trips, and both are
/// dumped (`callgrind_control -d`). User-space instructions only: the kernel's share of
/// a round trip (the socket calls) is the same for every pair and not counted.
struct InstructionCounter {
    let valgrind: String
    let control: String
    /// A copy of `rpc-count` without DWARF: valgrind 3.19 cannot read the DWARF 5 that
    /// Swift 6.3 writes ("debuginfo reader: possibly corrupted") and gives up; the
    /// symbol table that stays is enough to count, and to name functions in a profile.
    let counter: String
    let work: URL

    /// Round trips counted per pair, after ``warmUp`` uncounted ones.
    static let defaultRoundTrips = 2_000
    static let warmUp = 300
    /// One pair's client may take this long, start to exit, before it is killed.
    static let pairTimeout: Duration = .seconds(180)
    /// A client that has been counted gets this long to exit before it is killed.
    static let exitTimeout: Duration = .seconds(10)
    /// valgrind runs code 20 to 100 times slower: start-up may take this long.
    static let startTimeout: Duration = .seconds(120)

    /// The counter, or why it cannot count here.
    static func locate(in home: TestHome) -> Result<InstructionCounter, BenchError> {
        guard let valgrind = executable("valgrind"), let control = executable("callgrind_control") else {
            return .failure(BenchError("instructions not counted: valgrind is not installed (apt-get install -y valgrind)"))
        }
        guard let strip = executable("strip") else {
            return .failure(BenchError("instructions not counted: strip (binutils) is not installed"))
        }
        let original = URL(fileURLWithPath: ServerLocator.ownExecutable).deletingLastPathComponent().appendingPathComponent("rpc-count").path
        guard FileManager.default.isExecutableFile(atPath: original) else {
            return .failure(BenchError("instructions not counted: no rpc-count next to rpc-bench (swift build -c release --product rpc-count)"))
        }
        let work = home.directory.home.appendingPathComponent("callgrind")
        let counter = work.appendingPathComponent("rpc-count").path
        do {
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: original, toPath: counter)
            let status = try run(strip, ["--strip-debug", counter])
            guard status == 0 else { return .failure(BenchError("instructions not counted: strip --strip-debug exited \(status)")) }
        } catch {
            return .failure(BenchError("instructions not counted: cannot prepare rpc-count: \(error)"))
        }
        return .success(InstructionCounter(valgrind: valgrind, control: control, counter: counter, work: work))
    }

    /// Counts one pair.
    /// - Parameters:
    ///   - server: `rpc-count` arguments for the server (`serve-c <socket>`, `serve-nio <socket>` or `serve-echo --home <dir>`).
    ///   - socket: where the server listens.
    ///   - client: `blocking` or `rpc-client`.
    ///   - workload: `health` or `echo`.
    ///   - token: for `echo`.
    /// - Returns: instructions per round trip, client and server.
    func count(
        pair name: String, server: [String], socket: String, client: String, workload: String, token: String?, roundTrips: Int
    ) async throws -> (client: Double, server: Double) {
        let serverProcess = try await ChildServer.launch(
            "\(name) server under callgrind", executable: valgrind, arguments: callgrind("\(name)-server") + [counter] + server,
            socket: socket, logPath: work.appendingPathComponent("\(name)-server.log").path, timeout: Self.startTimeout)
        defer { serverProcess.stop() }
        let clientProcess = Process()
        clientProcess.executableURL = URL(fileURLWithPath: valgrind)
        clientProcess.arguments = callgrind("\(name)-client") + [counter, "client", client, socket, workload, "\(Self.warmUp)", "\(roundTrips)"]
            + (token.map { [$0] } ?? [])
        let input = Pipe()
        let output = Pipe()
        clientProcess.standardInput = input
        clientProcess.standardOutput = output
        clientProcess.standardError = try FileHandle(forWritingTo: createLog("\(name)-client.log"))
        try clientProcess.run()
        defer { if clientProcess.isRunning { kill(clientProcess.processIdentifier, SIGKILL) } }
        // A client that stalls under valgrind (seen: RPCClient's echo pair, now and then)
        // is killed after the limit, so the benchmark reports it instead of hanging.
        let clientPID = clientProcess.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: Self.pairTimeout)
            kill(clientPID, SIGKILL)
        }
        defer { watchdog.cancel() }
        let lines = LineReader(output.fileHandleForReading)
        guard lines.next() == "ready" else {
            throw BenchError("the \(name) client did not warm up within \(Self.pairTimeout): \(clientLog(name))")
        }
        try zero(clientProcess.processIdentifier)
        try zero(serverProcess.pid)
        input.fileHandleForWriting.write(Data("go\n".utf8))
        guard lines.next() == "done" else {
            throw BenchError("the \(name) client did not finish within \(Self.pairTimeout): \(clientLog(name))")
        }
        let server = try dump(serverProcess.pid, "\(name)-server")
        let client = try dump(clientProcess.processIdentifier, "\(name)-client")
        input.fileHandleForWriting.write(Data("end\n".utf8))
        // Its count is in; a client that does not exit within the limit is killed (deferred above).
        let exitBy = ContinuousClock.now + Self.exitTimeout
        while clientProcess.isRunning, ContinuousClock.now < exitBy { try await Task.sleep(for: .milliseconds(20)) }
        return (Double(client) / Double(roundTrips), Double(server) / Double(roundTrips))
    }

    private func callgrind(_ name: String) -> [String] {
        ["--tool=callgrind", "--callgrind-out-file=\(work.path)/\(name).%p.out"]
    }

    private func createLog(_ name: String) throws -> URL {
        let url = work.appendingPathComponent(name)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        return url
    }

    private func clientLog(_ name: String) -> String {
        (try? String(contentsOf: work.appendingPathComponent("\(name)-client.log"), encoding: .utf8))?.suffix(2_000).description ?? "(no log)"
    }

    private func zero(_ pid: Int32) throws {
        let status = try Self.run(control, ["-z", "\(pid)"])
        guard status == 0 else { throw BenchError("callgrind_control -z \(pid) exited \(status)") }
    }

    /// Dumps the counters of `pid` and reads their total from the dump file.
    private func dump(_ pid: Int32, _ name: String) throws -> Int64 {
        let status = try Self.run(control, ["-d", "\(pid)"])
        guard status == 0 else { throw BenchError("callgrind_control -d \(pid) exited \(status)") }
        let prefix = "\(name).\(pid).out."
        let files = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix(prefix) }.sorted()
        guard let newest = files.last else { throw BenchError("callgrind wrote no dump for \(name) (\(pid))") }
        let text = try String(contentsOf: work.appendingPathComponent(newest), encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("summary:") || line.hasPrefix("totals:") {
            if let value = line.split(separator: " ").dropFirst().first.flatMap({ Int64($0) }) { return value }
        }
        throw BenchError("no instruction total in \(newest)")
    }

    private static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @discardableResult
    private static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Lines from a pipe, one at a time, blocking.
final class LineReader {
    private let handle: FileHandle
    private var buffer = Data()

    init(_ handle: FileHandle) { self.handle = handle }

    /// The next line without its newline; nil at the end.
    func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let more = handle.availableData
            if more.isEmpty { return nil }
            buffer.append(more)
        }
    }
}

/// Instructions per round trip of each pair, for each workload.
struct InstructionFigures: Codable, Sendable {
    struct Pair: Codable, Sendable {
        let method: String
        /// `C` (blocking C client, C ping-pong), `blocking→RPC`, `RPCClient→RPC`, or one of the NIO floor pairs.
        let pair: String
        let client: Double
        let server: Double
        var total: Double { client + server }

        /// The blocking C client against SwiftNIO echoing lines: the server's floor.
        static let floorServer = "blocking→NIO floor"
        /// SwiftNIO's client against the C ping-pong: the client's floor.
        static let floorClient = "NIO floor→C"
        /// A pair that measures SwiftNIO with no JSON, not the RPC core.
        var isFloor: Bool { pair == Self.floorServer || pair == Self.floorClient }
    }

    let roundTrips: Int
    let pairs: [Pair]

    /// Counts the three pairs for both workloads, on a home of its own (the RPC core's
    /// counted server must not share the socket of the one the timed series use).
    /// - Parameter keep: a folder to copy callgrind's dumps and logs into, for
    ///   `callgrind_annotate` (nil: they go with the temporary home).
    static func measure(roundTrips: Int, keep: String?) async throws -> Result<InstructionFigures, BenchError> {
        let home = try TestHome.make()
        defer { home.remove() }
        try home.directory.prepare()
        let counter: InstructionCounter
        switch InstructionCounter.locate(in: home) {
        case .success(let located): counter = located
        case .failure(let why): return .failure(why)
        }
        do {
            return .success(try await count(in: home, counter: counter, roundTrips: roundTrips, keep: keep))
        } catch let error as BenchError {
            return .failure(BenchError("instructions not counted: \(error.description.prefix(500))"))
        }
    }

    private static func count(in home: TestHome, counter: InstructionCounter, roundTrips: Int, keep: String?) async throws -> InstructionFigures {
        let token = try home.token("operator")
        let run = home.directory.run.path
        var pairs: [Pair] = []
        for (method, workload) in [("health.check", "health"), ("echo.echo", "echo")] {
            let token = workload == "echo" ? token : nil
            progress("\(method): counting instructions, C pair")
            let c = try await counter.count(
                pair: "c-\(workload)", server: ["serve-c", "\(run)/count-c.sock"], socket: "\(run)/count-c.sock",
                client: "blocking", workload: workload, token: token, roundTrips: roundTrips)
            pairs.append(Pair(method: method, pair: "C", client: c.client, server: c.server))
            progress("\(method): counting instructions, the NIO floor (no JSON)")
            let floorServer = try await counter.count(
                pair: "nio-server-\(workload)", server: ["serve-nio", "\(run)/count-nio.sock"], socket: "\(run)/count-nio.sock",
                client: "blocking", workload: workload, token: token, roundTrips: roundTrips)
            pairs.append(Pair(method: method, pair: Pair.floorServer, client: floorServer.client, server: floorServer.server))
            let floorClient = try await counter.count(
                pair: "nio-client-\(workload)", server: ["serve-c", "\(run)/count-c.sock"], socket: "\(run)/count-c.sock",
                client: "nio", workload: workload, token: token, roundTrips: roundTrips)
            pairs.append(Pair(method: method, pair: Pair.floorClient, client: floorClient.client, server: floorClient.server))
            for client in ["blocking", "rpc-client"] {
                progress("\(method): counting instructions, \(client) → RPC core")
                let counted = try await counter.count(
                    pair: "\(client)-\(workload)", server: ["serve-echo", "--home", home.directory.home.path],
                    socket: home.socket("echo"), client: client, workload: workload, token: token, roundTrips: roundTrips)
                pairs.append(Pair(
                    method: method, pair: client == "blocking" ? "blocking→RPC" : "RPCClient→RPC", client: counted.client, server: counted.server))
            }
        }
        if let keep {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: counter.work, to: URL(fileURLWithPath: keep))
            progress("callgrind's dumps are in \(keep) (callgrind_annotate <file> names where the instructions go)")
        }
        return InstructionFigures(roundTrips: roundTrips, pairs: pairs)
    }

    private static func progress(_ text: String) {
        FileHandle.standardError.write(Data("rpc-bench: \(text)\n".utf8))
    }
}
