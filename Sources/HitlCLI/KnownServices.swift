import ArgumentParser
import Foundation
import RPC

/// The services of the stack, as `hitl` knows them: to tell a mistyped name
/// (a usage error, said at once) from a known service that is down (retried).
enum KnownServices {
    /// The services of the stack definition (`--compose`, `$HITL_COMPOSE`, or
    /// compose/stack.json at or above the working directory), when it can be read.
    /// - Parameter compose: a `--compose` option.
    static func defined(compose: String? = nil) -> [String]? {
        let path = StackDefinition.locate(compose)
        guard FileManager.default.fileExists(atPath: path), let definition = try? StackDefinition.load(path: path) else { return nil }
        return definition.services.map(\.name)
    }

    /// The services the running supervisor of the home reports, if one answers.
    static func supervised(_ global: GlobalOptions) async -> [String]? {
        guard SocketPath.isLive(global.directory.supervisorSocket), let client = try? global.client(for: Supervisor.serviceName) else {
            return nil
        }
        defer { Task { await client.close() } }
        let options = CallOptions(timeout: .seconds(2))
        return try? await client.call("stack.status", NoParams(), as: StackStatusResult.self, options: options).services.map(\.name)
    }

    /// Every name `hitl` may call: the services of the stack definition and of the
    /// running supervisor (which may run another definition), and the supervisor
    /// itself (`stack`); nil when neither says what they are.
    static func names(_ global: GlobalOptions, compose: String? = nil) async -> [String]? {
        let fromDefinition = defined(compose: compose)
        let fromSupervisor = await supervised(global)
        guard fromDefinition != nil || fromSupervisor != nil else { return nil }
        var names = fromDefinition ?? []
        names += (fromSupervisor ?? []).filter { !names.contains($0) }
        return names + [Supervisor.serviceName]
    }

    /// Refuses at once a service that has no socket in the home and is not one
    /// of the stack's; a known service (or one with a socket) passes.
    /// - Throws: ``ValidationError`` (exit 2) naming the service and the known ones.
    static func check(_ service: String, _ global: GlobalOptions, compose: String? = nil) async throws {
        let socket = global.directory.socketPath(for: service)
        guard !FileManager.default.fileExists(atPath: socket), let known = await names(global, compose: compose), !known.contains(service) else {
            return
        }
        throw ValidationError(unknown(service, known: known))
    }

    /// "unknown service 'ledgr': the stack's services are …; did you mean 'ledger'?"
    static func unknown(_ service: String, known: [String]) -> String {
        var text = "unknown service '\(service)': the stack's services are \(known.joined(separator: ", "))"
        if let guess = closest(to: service, in: known) { text += "; did you mean '\(guess)'?" }
        return text
    }

    /// The known name nearest `name` (or its part before a '.', as in `ledger.balance`),
    /// at most two edits away.
    static func closest(to name: String, in known: [String]) -> String? {
        let candidates = Set([name, String(name.split(separator: ".").first ?? "")]).filter { !$0.isEmpty }
        let scored = known.map { option in (option, candidates.map { distance($0, option) }.min() ?? .max) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2 else { return nil }
        return best.0
    }

    /// Levenshtein distance.
    static func distance(_ left: String, _ right: String) -> Int {
        let a = Array(left), b = Array(right)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension StackDefinition {
    /// The stack definition to read, as ``locate(_:)`` finds it; nil when neither
    /// `--compose` nor `$HITL_COMPOSE` is given and no compose/stack.json is at or
    /// above the working directory.
    /// - Parameter explicit: a `--compose` option.
    /// - Throws: ``ValidationError`` (a usage error) when `--compose` names no file.
    static func given(_ explicit: String?) throws -> String? {
        if let explicit, !explicit.isEmpty, !FileManager.default.fileExists(atPath: explicit) {
            throw ValidationError("--compose \(explicit): no such file")
        }
        let path = locate(explicit)
        let named = !(explicit ?? "").isEmpty || !(ProcessInfo.processInfo.environment["HITL_COMPOSE"] ?? "").isEmpty
        return named || FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
