import ArgumentParser
import Foundation
import RPC

/// `hitl health [SERVICE...]`
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that services are serving.",
        discussion: """
            Without arguments, checks every service in compose/stack.json. Exits 0 when all \
            are SERVING, 1 when one is draining (NOT_SERVING), 3 when one cannot be reached.

            Examples:
              hitl health
              hitl health ledger approval --json
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The stack definition (default: $HITL_COMPOSE, else compose/stack.json).", valueName: "file"))
    var compose: String?

    @Argument(help: "Services to check (default: all in the stack definition).")
    var services: [String] = []

    struct Row: Encodable {
        let service: String
        let status: String
        let version: String?
        let pid: Int64?
        let uptimeMs: Int64?
        let socket: String
        let error: String?

        enum CodingKeys: String, CodingKey {
            case service, status, version, pid, socket, error
            case uptimeMs = "uptime_ms"
        }
    }

    func run() async throws {
        let directory = try global.locatedHome()
        let names = try await serviceNames()
        let timeout = min(global.timeout, 5)
        let json = global.json
        // No supervisor: nothing will bring a missing socket back while we wait, so say so at once.
        let supervised = SocketPath.isLive(directory.supervisorSocket)
        let skipped = supervised ? await Self.skippedServices(client: try? global.client(for: Supervisor.serviceName), timeout: timeout) : [:]
        let rows = await withTaskGroup(of: (Int, Row).self) { group in
            for (index, name) in names.enumerated() {
                if let reason = skipped[name] {
                    let row = Row(service: name, status: SupervisedState.skipped.rawValue, version: nil, pid: nil, uptimeMs: nil,
                                  socket: directory.socketPath(for: name), error: reason)
                    group.addTask { (index, row) }
                    continue
                }
                let socket = directory.socketPath(for: name)
                if !supervised, !FileManager.default.fileExists(atPath: socket) {
                    let row = Row(service: name, status: "UNREACHABLE", version: nil, pid: nil, uptimeMs: nil, socket: socket,
                                  error: json ? "no socket at \(socket)" : "no service at \(socket)")
                    group.addTask { (index, row) }
                    continue
                }
                group.addTask { (index, await Self.check(name, directory: directory, timeout: timeout, json: json)) }
            }
            var rows: [(Int, Row)] = []
            for await row in group { rows.append(row) }
            return rows.sorted { $0.0 < $1.0 }.map(\.1)
        }
        if global.json {
            Output.out(try JSONValue(encoding: rows).jsonText())
        } else {
            Output.out(Table.render(
                header: ["SERVICE", "STATUS", "VERSION", "PID", "UPTIME", "SOCKET"],
                rows: rows.map { row in
                    [row.service, row.status, row.version ?? "-", row.pid.map(String.init) ?? "-",
                     row.uptimeMs.map(Table.duration) ?? "-", row.error ?? row.socket]
                }))
        }
        if rows.contains(where: { $0.status == "UNREACHABLE" }) {
            if rows.allSatisfy({ $0.status == "UNREACHABLE" }), !supervised {
                Output.err(global.search.notRunning.description)
            }
            throw HitlExit.unreachable.exitCode
        }
        if rows.contains(where: { ![HealthStatus.serving.rawValue, SupervisedState.skipped.rawValue].contains($0.status) }) {
            throw HitlExit.rpcError.exitCode
        }
    }

    /// The services to check: those named (each a service of the stack, or one with a
    /// socket), else the stack definition's, else those of the running supervisor.
    /// - Throws: ``ValidationError`` for an unknown name; ``HitlFailure`` when nothing says
    ///   what the services are because the stack is not running.
    private func serviceNames() async throws -> [String] {
        if !services.isEmpty {
            for name in services { try await KnownServices.check(name, global, compose: compose) }
            return services
        }
        if let path = try StackDefinition.given(compose) { return try StackDefinition.load(path: path).services.map(\.name) }
        if let names = await KnownServices.supervised(global) { return names }
        throw global.search.notRunning
    }

    /// Services the running supervisor skipped on purpose (an `unless_env`
    /// variable is set), with the reason; empty when no supervisor answers.
    private static func skippedServices(client: RPCClient?, timeout: Double) async -> [String: String] {
        guard let client else { return [:] }
        defer { Task { await client.close() } }
        let options = CallOptions(timeout: .milliseconds(Int64(timeout * 1000)))
        guard let status = try? await client.call("stack.status", NoParams(), as: StackStatusResult.self, options: options) else { return [:] }
        return Dictionary(uniqueKeysWithValues: status.services.filter { $0.state == SupervisedState.skipped.rawValue }.map {
            ($0.name, $0.lastError ?? "skipped")
        })
    }

    private static func check(_ service: String, directory: RunDirectory, timeout: Double, json: Bool) async -> Row {
        let socket = directory.socketPath(for: service)
        let client = RPCClient(path: socket)
        defer { Task { await client.close() } }
        do {
            let options = CallOptions(timeout: .milliseconds(Int64(timeout * 1000)))
            let health = try await client.call("health.check", NoParams(), as: HealthResult.self, options: options)
            return Row(service: service, status: health.status.rawValue, version: health.version, pid: health.pid,
                       uptimeMs: health.uptimeMs, socket: socket, error: nil)
        } catch let error as RPCError where error.status == .unavailable {
            return Row(service: service, status: "UNREACHABLE", version: nil, pid: nil, uptimeMs: nil, socket: socket,
                       error: json ? error.message : "no service at \(socket)")
        } catch {
            return Row(service: service, status: "ERROR", version: nil, pid: nil, uptimeMs: nil, socket: socket, error: "\(error)")
        }
    }
}

/// Plain-text tables for people.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func duration(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        return "\(seconds / 3600)h\(seconds % 3600 / 60)m"
    }
}
