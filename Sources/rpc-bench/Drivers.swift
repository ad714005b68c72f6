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
        if kind != .c {  // the C server answers with the request itself
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
