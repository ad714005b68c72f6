import CPingPong
import Foundation
import NIOCore
import RPC

/// Runs the blocking C client: `connections` threads, each writing a line and
/// reading the answer `perConnection` times in a row.
enum BlockingDriver {
    /// The longest response kept for checking.
    private static let responseCapacity = 4096

    /// Measures one series; the response is checked first, outside the timing.
    /// - Throws: ``BenchError`` when a round trip fails or the answer is not the expected one.
    static func measure(
        _ workload: Workload, server kind: ServerKind, on server: ChildServer, connections: Int, perConnection: Int, warmUp: Int
    ) throws -> Series {
        let socket = server.socket
        if kind.answersWithRequest == false {
            let answer = try answer(workload.line, socket: socket)
            guard workload.accepts(answer) else {
                throw BenchError("\(kind.label) answered \(workload.method) with: \(answer)")
            }
        }
        try run(workload.line, socket: socket, connections: connections, perConnection: warmUp, latencies: nil)
        var latencies = [Int64](repeating: 0, count: connections * perConnection)
        let cpu = CPUMeter(server: server)
        let elapsed = try latencies.withUnsafeMutableBufferPointer { buffer in
            try run(workload.line, socket: socket, connections: connections, perConnection: perConnection, latencies: buffer.baseAddress)
                .elapsed
        }
        return Series(
            method: workload.method, server: kind, client: .blocking, connections: connections,
            latencies: latencies, elapsedNanoseconds: elapsed, cpu: cpu.read())
    }

    /// One round trip on a fresh connection: the answer, unchecked.
    static func answer(_ line: String, socket: String) throws -> String {
        try run(line, socket: socket, connections: 1, perConnection: 1, latencies: nil).response
    }

    /// One run of the C client: the wall time, and the last answer on the first connection.
    @discardableResult
    private static func run(
        _ line: String, socket: String, connections: Int, perConnection: Int, latencies: UnsafeMutablePointer<Int64>?
    ) throws -> (elapsed: Int64, response: String) {
        var response = [CChar](repeating: 0, count: responseCapacity)
        let outcome = line.withCString { bytes in
            cpp_run_clients(socket, bytes, strlen(bytes), Int32(connections), Int64(perConnection), latencies, &response, responseCapacity)
        }
        guard outcome.error == 0, outcome.completed == Int64(connections * perConnection) else {
            throw BenchError(
                "the blocking client failed after \(outcome.completed) round trips on \(socket): \(String(cString: strerror(outcome.error)))")
        }
        let text = String(decoding: response.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (outcome.elapsed_ns, text)
    }
}

/// Runs `RPCClient`: one client (one connection) per simulated caller, each
/// making its calls one after another, all callers at once.
enum RPCClientDriver {
    /// Measures one series.
    /// - Throws: whatever a call throws (every call is checked).
    static func measure(
        _ workload: Workload, on server: ChildServer, token: String, connections: Int, perConnection: Int, warmUp: Int
    ) async throws -> Series {
        let clients = (0..<connections).map { _ in RPCClient(path: server.socket, token: token) }
        do {
            for client in clients {
                for _ in 0..<warmUp { try await workload.call(client) }
            }
            let cpu = CPUMeter(server: server)
            let began = monotonicNanoseconds()
            let latencies = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for client in clients {
                    group.addTask {
                        var times = [Int64]()
                        times.reserveCapacity(perConnection)
                        for _ in 0..<perConnection {
                            let start = monotonicNanoseconds()
                            try await workload.call(client)
                            times.append(monotonicNanoseconds() - start)
                        }
                        return times
                    }
                }
                var all = [Int64]()
                for try await times in group { all += times }
                return all
            }
            let elapsed = monotonicNanoseconds() - began
            let used = cpu.read()
            for client in clients { await client.close() }
            return Series(
                method: workload.method, server: .rpc, client: .rpcClient, connections: connections,
                latencies: latencies, elapsedNanoseconds: elapsed, cpu: used)
        } catch {
            for client in clients { await client.close() }
            throw error
        }
    }
}

/// Runs the pipelined C client: one connection, `window` requests in flight. The
/// most a server can do for one client, and the baseline of the shared `RPCClient`.
enum PipelinedDriver {
    /// Measures one series against a baseline that answers with the request itself.
    static func measure(
        _ workload: Workload, server kind: ServerKind, on server: ChildServer, window: Int, total: Int, warmUp: Int
    ) throws -> Series {
        try run(workload.line, socket: server.socket, window: window, total: warmUp, latencies: nil)
        var latencies = [Int64](repeating: 0, count: total)
        let cpu = CPUMeter(server: server)
        let elapsed = try latencies.withUnsafeMutableBufferPointer { buffer in
            try run(workload.line, socket: server.socket, window: window, total: total, latencies: buffer.baseAddress)
        }
        return Series(
            method: workload.method, server: kind, client: .pipelined, connections: window,
            latencies: latencies, elapsedNanoseconds: elapsed, cpu: cpu.read())
    }

    @discardableResult
    private static func run(_ line: String, socket: String, window: Int, total: Int, latencies: UnsafeMutablePointer<Int64>?) throws -> Int64 {
        let outcome = line.withCString { bytes in
            cpp_run_pipelined(socket, bytes, strlen(bytes), Int32(window), Int64(total), latencies)
        }
        guard outcome.error == 0, outcome.completed == Int64(total) else {
            throw BenchError(
                "the pipelined client failed after \(outcome.completed) round trips on \(socket): \(String(cString: strerror(outcome.error)))")
        }
        return outcome.elapsed_ns
    }
}

/// Runs `callers` tasks that share one `RPCClient` (its pool and multiplexing), each
/// making its calls one after another.
enum SharedClientDriver {
    /// Measures one series; every call is checked.
    static func measure(
        _ workload: Workload, on server: ChildServer, token: String, callers: Int, perCaller: Int, warmUp: Int
    ) async throws -> Series {
        let client = RPCClient(path: server.socket, token: token)
        do {
            _ = try await calls(workload, client, callers: callers, perCaller: warmUp)
            let cpu = CPUMeter(server: server)
            let began = monotonicNanoseconds()
            let latencies = try await calls(workload, client, callers: callers, perCaller: perCaller)
            let elapsed = monotonicNanoseconds() - began
            let used = cpu.read()
            await client.close()
            return Series(
                method: workload.method, server: .rpc, client: .sharedRPCClient, connections: callers,
                latencies: latencies, elapsedNanoseconds: elapsed, cpu: used)
        } catch {
            await client.close()
            throw error
        }
    }

    private static func calls(_ workload: Workload, _ client: RPCClient, callers: Int, perCaller: Int) async throws -> [Int64] {
        try await withThrowingTaskGroup(of: [Int64].self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var times = [Int64]()
                    times.reserveCapacity(perCaller)
                    for _ in 0..<perCaller {
                        let start = monotonicNanoseconds()
                        try await workload.call(client)
                        times.append(monotonicNanoseconds() - start)
                    }
                    return times
                }
            }
            var all = [Int64]()
            for try await times in group { all += times }
            return all
        }
    }
}
