import Foundation
import RPC
import RPCTesting
import Synchronization

/// How hard and how long to fuzz.
public struct FuzzConfiguration: Sendable {
    /// The seed every line derives from.
    public var seed: UInt64
    /// Lines per service (at least; oversize and slow lines come on top of the lanes' share).
    public var linesPerService: Int
    /// Connections writing at once (each pipelines up to `window` requests).
    public var lanes = 4
    /// Requests in flight per connection before the writer waits for answers.
    public var window = 64
    /// How long a connection waits for its last answers: longer than any deadline the
    /// generator sets (10 s), with room for a loaded machine.
    public var drainTimeout: Duration = .seconds(60)
    /// One line over the 1 MiB limit per this many lines (at least two per service).
    public var oversizeEvery = 5_000
    /// A service whose peak RSS exceeds this fails the run: memory must stay bounded.
    public var maximumRSSMiB = 1_024

    /// - Parameters:
    ///   - seed: the run's seed.
    ///   - linesPerService: lines per service.
    public init(seed: UInt64, linesPerService: Int) {
        self.seed = seed
        self.linesPerService = linesPerService
    }
}

/// What one service went through.
public struct ServiceReport: Sendable {
    /// The service's short name.
    public let service: String
    /// Counts and violations.
    public var tally: FuzzTally
    /// Whether the process died during the run.
    public var crashed: Bool
    /// Whether `health.check` answered SERVING afterwards.
    public var servingAfter: Bool
    /// VmHWM (peak resident set) and VmRSS before and after, in KiB.
    public var peakRSSKiB: Int?
    public var rssBeforeKiB: Int?
    public var rssAfterKiB: Int?
    /// Wall-clock seconds.
    public var seconds: Double
    /// The RSS limit the run was held to.
    public var maximumRSSMiB: Int

    /// No violation, no crash, still serving, memory under the limit.
    public var passed: Bool {
        tally.violations.isEmpty && !crashed && servingAfter && (peakRSSKiB ?? 0) <= maximumRSSMiB * 1024
    }

    /// One line for people: lines, responses, errors by status, crashes, peak RSS.
    public var summary: String {
        let errors = tally.errorsByStatus.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let rss = peakRSSKiB.map { String(format: "%.1f MiB", Double($0) / 1024) } ?? "?"
        let violations = tally.violations.count + tally.droppedViolations
        return "\(service): lines \(tally.linesSent), responses \(tally.responses) (results \(tally.results), errors \(tally.errors): \(errors)), "
            + "events \(tally.events), connections \(tally.connections), crashes \(crashed ? 1 : 0), violations \(violations), "
            + "serving after \(servingAfter ? "yes" : "NO"), peak RSS \(rss), \(String(format: "%.1f", seconds)) s"
    }
}

/// Fuzzes one running service over its socket.
struct ServiceFuzzer {
    let service: String
    let socket: String
    let process: ServiceProcess
    let contract: ContractModel
    let tokens: [String: String]
    let configuration: FuzzConfiguration

    func run() async -> ServiceReport {
        let clock = ContinuousClock()
        let started = clock.now
        let before = MemoryStatus.read(pid: process.pid)
        let oversize = max(2, configuration.linesPerService / configuration.oversizeEvery)
        let share = max(1, (configuration.linesPerService - oversize) / configuration.lanes)
        let stop = StopFlag()
        var tally = FuzzTally()
        await withTaskGroup(of: FuzzTally.self) { group in
            group.addTask { await slowWriter(stop: stop) }
            group.addTask { await oversizeLines(count: oversize) }
            await withTaskGroup(of: FuzzTally.self) { lanes in
                for lane in 0..<configuration.lanes {
                    lanes.addTask { await runLane(lane, lines: share) }
                }
                for await part in lanes { tally.merge(part) }
            }
            stop.value.store(true, ordering: .relaxed)
            for await part in group { tally.merge(part) }
        }
        let crashed = !process.process.isRunning
        let serving = crashed ? false : await isServing()
        let after = MemoryStatus.read(pid: process.pid)
        if crashed { tally.violation("\(service) died during the run (status \(process.process.terminationStatus)); see \(process.logPath)") }
        return ServiceReport(
            service: service, tally: tally, crashed: crashed, servingAfter: serving, peakRSSKiB: after?.peakKiB, rssBeforeKiB: before?.residentKiB,
            rssAfterKiB: after?.residentKiB, seconds: (clock.now - started) / .seconds(1), maximumRSSMiB: configuration.maximumRSSMiB)
    }

    /// `health.check` answers SERVING.
    func isServing() async -> Bool {
        let client = RPCClient(path: socket)
        defer { Task { await client.close() } }
        let health = try? await client.call("health.check", NoParams(), as: HealthResult.self, options: .init(timeout: .seconds(10)))
        return health?.status == .serving
    }

    // MARK: - Lanes

    /// Pipelined traffic on one connection after another.
    func runLane(_ lane: Int, lines: Int) async -> FuzzTally {
        var generator = LineGenerator(service: service, contract: contract, tokens: tokens, seed: configuration.seed, lane: lane)
        var random = SeededRandom(seed: configuration.seed, stream: "\(service)/\(lane)/connections")
        var tally = FuzzTally()
        var sent = 0
        var index = 0
        while sent < lines {
            index += 1
            let tracker = ConnectionTracker(service: service, label: "\(service) lane \(lane) connection \(index)")
            guard let connection = try? await FuzzConnection.open(socket, tracker: tracker) else {
                tally.violation("\(service) lane \(lane): cannot connect to \(socket) after \(sent) lines")
                break
            }
            tally.connections += 1
            let budget = min(lines - sent, Int.random(in: 200...3_000, using: &random))
            var pending: [UInt8] = []
            var pendingLines = 0
            var flushAfter = Int.random(in: 1...8, using: &random)
            var lineNumber = 0
            for _ in 0..<budget {
                let line = generator.next()
                lineNumber += 1
                sent += 1
                tracker.expect(line.expectation, line: lineNumber, bytes: line.bytes)
                tally.linesSent += 1
                tally.bytesSent += line.bytes.count + 1
                tally.linesByKind[line.kind.rawValue, default: 0] += 1
                pending += line.bytes
                pending.append(0x0A)
                pendingLines += 1
                guard pendingLines >= flushAfter || pending.count > 256 * 1024 else { continue }
                if !(await send(pending, on: connection, tally: &tally, after: lineNumber)) { break }
                pending = []
                pendingLines = 0
                flushAfter = Int.random(in: 1...8, using: &random)
                await waitForWindow(tracker)
            }
            if !pending.isEmpty { _ = await send(pending, on: connection, tally: &tally, after: lineNumber) }
            await drain(connection, sentinel: "end-\(lane)-\(index)", tally: &tally)
            if random.chance(10), !tracker.isClosed {
                // A last line that never ends: the service must drop it when the peer goes away.
                let partial = Array(#"{"jsonrpc":"2.0","id":"cut","method":"health.ch"#.utf8)
                try? await connection.write(partial)
                tally.linesSent += 1
                tally.linesByKind["unterminated", default: 0] += 1
            }
            await connection.close()
            tally.merge(tracker.finish())
        }
        return tally
    }

    private func send(_ bytes: [UInt8], on connection: FuzzConnection, tally: inout FuzzTally, after line: Int) async -> Bool {
        if connection.tracker.isClosed {
            tally.violation("\(connection.tracker.label): the service closed the connection by line \(line)")
            return false
        }
        do {
            try await connection.write(bytes)
            return true
        } catch {
            tally.violation("\(connection.tracker.label): writing line \(line) failed: \(error)")
            return false
        }
    }

    private func waitForWindow(_ tracker: ConnectionTracker) async {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.drainTimeout
        while tracker.outstanding >= configuration.window, !tracker.isClosed, clock.now < deadline {
            try? await Task.sleep(for: .microseconds(200))
        }
    }

    /// Sends an inline `health.check` (answered after every inline answer to earlier
    /// lines) and waits until everything owed has arrived.
    private func drain(_ connection: FuzzConnection, sentinel: String, tally: inout FuzzTally) async {
        let tracker = connection.tracker
        guard !tracker.isClosed else { return }
        let line = Array(#"{"jsonrpc":"2.0","id":"\#(sentinel)","method":"health.check"}"#.utf8)
        tracker.expect(.reply(.string(sentinel)), line: 0, bytes: line)
        _ = await send(line + [0x0A], on: connection, tally: &tally, after: 0)
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.drainTimeout
        while tracker.outstanding > 0, !tracker.isClosed, clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    // MARK: - Slow writer

    /// Requests written one byte per write, with pauses, on a connection of
    /// their own, for as long as the lanes run.
    func slowWriter(stop: StopFlag) async -> FuzzTally {
        var generator = LineGenerator(service: service, contract: contract, tokens: tokens, seed: configuration.seed, lane: 1_000)
        var random = SeededRandom(seed: configuration.seed, stream: "\(service)/slow")
        var tally = FuzzTally()
        let tracker = ConnectionTracker(service: service, label: "\(service) slow writer")
        guard let connection = try? await FuzzConnection.open(socket, tracker: tracker) else {
            tally.violation("\(service) slow writer: cannot connect to \(socket)")
            return tally
        }
        tally.connections += 1
        var lineNumber = 0
        writing: while !stop.value.load(ordering: .relaxed) {
            let line = generator.answerable()
            lineNumber += 1
            tracker.expect(line.expectation, line: lineNumber, bytes: line.bytes)
            tally.linesSent += 1
            tally.bytesSent += line.bytes.count + 1
            tally.linesByKind["slow-writer", default: 0] += 1
            // One byte per write for the first 256 bytes, then small pieces (a 10 KB
            // value byte by byte would take the slow writer longer than the run).
            let bytes = line.bytes + [0x0A]
            var offset = 0
            while offset < bytes.count {
                let end = offset < 256 ? offset + 1 : min(bytes.count, offset + Int.random(in: 1...512, using: &random))
                guard await send(Array(bytes[offset..<end]), on: connection, tally: &tally, after: lineNumber) else { break writing }
                offset = end
                try? await Task.sleep(for: random.chance(1) ? .milliseconds(300) : .milliseconds(1))
            }
            let clock = ContinuousClock()
            let deadline = clock.now + configuration.drainTimeout
            while tracker.outstanding > 0, !tracker.isClosed, clock.now < deadline { try? await Task.sleep(for: .milliseconds(1)) }
        }
        await drain(connection, sentinel: "end-slow", tally: &tally)
        await connection.close()
        tally.merge(tracker.finish())
        return tally
    }

    // MARK: - Oversize lines

    /// Lines over the 1 MiB limit, each on its own connection after one good
    /// request: the good one is answered, the long one gets LINE_TOO_LONG with id
    /// null, and the service closes the connection.
    func oversizeLines(count: Int) async -> FuzzTally {
        var random = SeededRandom(seed: configuration.seed, stream: "\(service)/oversize")
        var tally = FuzzTally()
        for index in 0..<count {
            try? await Task.sleep(for: .milliseconds(Int.random(in: 10...200, using: &random)))
            let tracker = ConnectionTracker(service: service, label: "\(service) oversize line \(index)")
            guard let connection = try? await FuzzConnection.open(socket, tracker: tracker) else {
                tally.violation("\(service) oversize: cannot connect to \(socket)")
                break
            }
            tally.connections += 1
            let good = Array(#"{"jsonrpc":"2.0","id":"before-big","method":"health.check"}"#.utf8) + [0x0A]
            tracker.expect(.reply(.string("before-big")), line: 1, bytes: good)
            let size = RPCLimits.defaultMaximumLineBytes + Int.random(in: 1...65_536, using: &random)
            let head = Array(#"{"jsonrpc":"2.0","id":"big","method":"health.check","params":{"pad":""#.utf8)
            var big = head + [UInt8](repeating: UInt8(ascii: "A"), count: size - head.count)
            let terminated = random.chance(50)
            if terminated { big.append(0x0A) }
            tracker.expect(.nullError, line: 2, bytes: Array(big.prefix(80)))
            tally.linesSent += 2
            tally.bytesSent += good.count + big.count
            tally.linesByKind["oversize", default: 0] += 1
            tally.linesByKind["valid", default: 0] += 1
            _ = await send(good, on: connection, tally: &tally, after: 1)
            var offset = 0
            while offset < big.count, !tracker.isClosed {
                let end = min(big.count, offset + 64 * 1024)
                guard (try? await connection.write(Array(big[offset..<end]))) != nil else { break }
                offset = end
            }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(20)
            while !tracker.isClosed, clock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
            if !tracker.isClosed { tally.violation("\(tracker.label): the service kept the connection open after a line over the limit") }
            let reasons = tracker.state.withLock { $0.nullReasons }
            if !reasons.contains("LINE_TOO_LONG") {
                tally.violation("\(tracker.label): no LINE_TOO_LONG error for a \(size)-byte line (got \(reasons))")
            }
            await connection.close()
            tally.merge(tracker.finish())
        }
        return tally
    }
}

/// Tells the slow writer the lanes are done.
final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}
