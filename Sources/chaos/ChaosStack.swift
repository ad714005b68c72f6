import Foundation
import HitlCLI
import RPC

/// The stack under test: started with the real `hitl stack up` on a private
/// home, from a copy of compose/stack.json tuned for a short run, and
/// crashed service by service with SIGKILL.
struct ChaosStack: Sendable {
    let directory: RunDirectory
    let binFolder: String
    let compose: String
    /// The network namespace the stack runs in (`ip netns exec`), for `chaos hosts`; nil: this one.
    var namespace: String? = nil
    /// The homes clients connect through, by route (see ``client(_:as:route:)``): the
    /// stack's own home, or homes whose `run/addresses.json` names other hosts' services.
    var routes: [RunDirectory] = []

    /// What the copy of compose/stack.json changes, so a run of minutes sees
    /// every outcome: approvals expire after `expirySeconds`, a run whose chat
    /// died is ended after `staleRunSeconds`, and restarts back off at most 1 s.
    struct Tuning: Sendable {
        var expirySeconds: Int
        var staleRunSeconds: Int
        /// A policy file to use instead of the definition's (nil: keep it).
        var policy: String? = nil
        /// Every window of the policy shortened to this many seconds (nil: as written).
        var windowSeconds: Int? = nil
    }

    /// A copy of `source` (a policy file) in `home` with every window set to `seconds`.
    /// - Returns: the copy's path.
    static func shortenWindows(of source: String, to seconds: Int, into home: RunDirectory) throws -> String {
        guard let data = FileManager.default.contents(atPath: source),
              case .object(var policy) = try JSONValue(parsing: String(decoding: data, as: UTF8.self))
        else { throw ChaosError("cannot read the policy \(source)") }
        for key in ["rules", "budgets"] {
            guard case .array(let entries)? = policy[key] else { continue }
            policy[key] = .array(entries.map { entry in
                guard case .object(var fields) = entry, fields["window"] != nil else { return entry }
                fields["window"] = .string("\(seconds)s")
                return .object(fields)
            })
        }
        policy["version"] = .string("\(policy["version"]?.stringValue ?? "policy")+windows-\(seconds)s")
        let path = home.home.appendingPathComponent("chaos-policy.json").path
        try Data(JSONValue.object(policy).jsonText(pretty: true).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The policy file the tuned definition gives approval-svc.
    /// - Parameter compose: a definition written by ``writeCompose(from:into:tuning:)``.
    static func policyPath(in compose: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: compose),
              case .array(let services)? = try JSONValue(parsing: String(decoding: data, as: UTF8.self))["services"],
              let approval = services.first(where: { $0["name"]?.stringValue == "approval" }),
              case .array(let args)? = approval["args"]
        else { throw ChaosError("\(compose) has no approval service") }
        let words = args.compactMap(\.stringValue)
        guard let index = words.firstIndex(of: "--policy"), index + 1 < words.count else {
            throw ChaosError("\(compose): the approval service has no --policy")
        }
        return words[index + 1]
    }

    /// Writes the tuned stack definition into the home.
    /// - Parameters:
    ///   - source: the repository's compose/stack.json.
    ///   - home: the private home.
    ///   - tuning: what to shorten.
    /// - Returns: the path of the copy.
    static func writeCompose(from source: String, into home: RunDirectory, tuning: Tuning) throws -> String {
        guard let data = FileManager.default.contents(atPath: source) else {
            throw ChaosError("cannot read \(source); pass --compose")
        }
        let repository = URL(fileURLWithPath: source).deletingLastPathComponent().deletingLastPathComponent()
        guard case .object(var document) = try JSONValue(parsing: String(decoding: data, as: UTF8.self)),
              case .array(let services)? = document["services"]
        else { throw ChaosError("\(source) is not a stack definition") }
        document["services"] = .array(try services.map { service in
            guard case .object(var spec) = service else { return service }
            var args: [String] = []
            if case .array(let given)? = spec["args"] { args = given.compactMap(\.stringValue) }
            // Relative paths in arguments are relative to the repository.
            if let index = args.firstIndex(of: "--policy"), index + 1 < args.count {
                if let policy = tuning.policy {
                    args[index + 1] = policy
                } else if !args[index + 1].hasPrefix("/") {
                    args[index + 1] = repository.appendingPathComponent(args[index + 1]).path
                }
                if let seconds = tuning.windowSeconds {
                    args[index + 1] = try shortenWindows(of: args[index + 1], to: seconds, into: home)
                }
            }
            switch spec["name"]?.stringValue {
            case "approval": args += ["--default-expiry-seconds", "\(tuning.expirySeconds)"]
            case "agent": args += ["--stale-run-after-s", "\(tuning.staleRunSeconds)", "--sweep-interval-s", "1"]
            default: break
            }
            spec["args"] = .array(args.map(JSONValue.string))
            spec["restart"] = ["policy": "always", "backoff_initial_ms": 100, "backoff_max_ms": 1000]
            return .object(spec)
        })
        addSaver(to: &document)
        let path = home.home.appendingPathComponent("chaos-stack.json").path
        try Data(JSONValue.object(document).jsonText(pretty: true).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The saver: a person (role user) whose own account, `savings`, only ever sends small
    /// transfers, so the policy approves some by itself and its budgets are spent and
    /// renewed all through the run (the checking account's large transfers put all of its
    /// transfers in the two-person tier most of the time).
    static let saver = (name: "saver", account: "savings", opening: "5000.00")

    private static func addSaver(to document: inout [String: JSONValue]) {
        if case .array(var identities)? = document["identities"] {
            identities.append(["name": .string(saver.name), "role": "user", "accounts": [.string(saver.account)]])
            document["identities"] = .array(identities)
        }
        if case .array(var calls)? = document["bootstrap"] {
            calls.append([
                "service": "ledger", "method": "ledger.open_account", "as": "operator",
                "params": ["account": .string(saver.account), "display_name": "Savings", "opening_balance": .string(saver.opening)],
                "accept": ["ACCOUNT_EXISTS"],
            ])
            document["bootstrap"] = .array(calls)
        }
    }

    /// `hitl stack <arguments>` on this home; its output goes to logs/chaos-hitl.log.
    func hitl(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        let hitl = URL(fileURLWithPath: binFolder).appendingPathComponent("hitl")
        let stack = ["stack"] + arguments + ["--home", directory.home.path, "--compose", compose]
        if let namespace {
            process.executableURL = URL(fileURLWithPath: Self.ip)
            process.arguments = ["netns", "exec", namespace, hitl.path] + stack
        } else {
            process.executableURL = hitl
            process.arguments = stack
        }
        var environment = ProcessInfo.processInfo.environment
        // A deterministic model: the stack's simulator, whatever the caller has configured.
        for name in ["OPENAI_API_KEY", "OPENAI_BASE_URL", "HITL_LLM_UNIX_SOCKET"] { environment[name] = nil }
        environment["HITL_BIN"] = binFolder
        environment["HITL_GATEWAY_PORT"] = "0"  // never collide with a stack of the user's on 8765
        process.environment = environment
        try directory.prepare()
        let log = directory.logs.appendingPathComponent("chaos-hitl.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try? handle.close()
        return process.terminationStatus
    }

    /// The supervisor's view of every service.
    func status() async throws -> StackStatusResult {
        let client = try RPCClient(service: "stack", directory: directory, identity: "operator")
        defer { Task { await client.close() } }
        return try await client.call("stack.status", [String: String](), as: StackStatusResult.self, options: .init(timeout: .seconds(5)))
    }

    /// Kills a service with SIGKILL and waits until the supervisor has it SERVING again.
    /// - Returns: how long it was away, or nil when it did not come back within `bound`.
    func crash(_ service: String, bound: Duration = .seconds(60)) async throws -> Duration? {
        guard let before = try await status().services.first(where: { $0.name == service }), let pid = before.pid else {
            throw ChaosError("\(service) is not running, so it cannot be killed")
        }
        let clock = ContinuousClock()
        let start = clock.now
        kill(pid_t(pid), SIGKILL)
        while clock.now - start < bound {
            try await Task.sleep(for: .milliseconds(50))
            if let now = try? await status().services.first(where: { $0.name == service }),
               now.state == "SERVING", let newPid = now.pid, newPid != pid {
                return clock.now - start
            }
        }
        return nil
    }

    /// A client for a service, presenting an identity's token, through route
    /// `route` (modulo the routes; the stack's own home when it has none).
    func client(_ service: String, as identity: String, route: Int = 0) throws -> RPCClient {
        let home = routes.isEmpty ? directory : routes[route % routes.count]
        return try RPCClient(service: service, directory: home, identity: identity)
    }

    /// iproute2's `ip`, for network namespaces.
    static let ip = "/usr/sbin/ip"
}

/// A failure of the chaos program itself (not a violation of the system's promises).
struct ChaosError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
