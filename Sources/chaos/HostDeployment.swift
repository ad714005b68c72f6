import Foundation
import HitlCLI
import RPC

/// The stack deployed on several hosts as a user would on several machines: one home
/// per host with the same tokens, identities, TLS folder and signing keys, a stack
/// definition whose stateful services share one PostgreSQL and whose services listen on
/// the host's address; and one client home per host whose `run/addresses.json` names
/// that host's services, for clients on another host.
struct HostDeployment: Sendable {
    let hosts: [HostsCommand.Host]
    /// Each host's stack, run in its namespace.
    let stacks: [ChaosStack]
    /// What clients use: route `i` goes through host `i` (modulo the hosts), over TCP with TLS.
    let clients: ChaosStack

    /// The homes and definitions (nothing is started).
    static func make(
        hosts: [HostsCommand.Host], base: URL, binFolder: String, databaseURL: String, compose: String, tuning: ChaosStack.Tuning
    ) throws -> HostDeployment {
        let homes = try hosts.map { host in
            let home = RunDirectory(home: base.appendingPathComponent(host.name).path)
            try home.prepare()
            return home
        }
        let tuned = try ChaosStack.writeCompose(from: compose, into: homes[0], tuning: tuning)
        let composes = try zip(hosts, homes).map { host, home in
            try Self.writeHostCompose(from: tuned, host: host, databaseURL: databaseURL, into: home)
        }
        let initialized = try run(
            binFolder + "/hitl", ["init", "--home", homes[0].home.path, "--compose", composes[0]] + hosts.flatMap { ["--tls-host", $0.address] })
        guard initialized == 0 else { throw ChaosError("hitl init --tls-host failed for \(homes[0].home.path)") }
        var routes: [RunDirectory] = []
        for (index, host) in hosts.enumerated() {
            if index > 0 { try copyRun(["tokens", "identities.json", "tls"], from: homes[0], to: homes[index]) }
            let route = RunDirectory(home: base.appendingPathComponent("client-via-\(host.name)").path)
            try route.prepare()
            try copyRun(["tokens", "identities.json", "tls"], from: homes[0], to: route)
            let addresses = HostsCommand.ports.mapValues { "tcp://\(host.address):\($0)" }
            try JSONEncoder().encode(addresses).write(to: route.addresses)
            routes.append(route)
        }
        let stacks = zip(zip(hosts, homes), composes).map { pair, compose in
            ChaosStack(directory: pair.1, binFolder: binFolder, compose: compose, namespace: pair.0.namespace)
        }
        let clients = ChaosStack(directory: routes[0], binFolder: binFolder, compose: composes[0], routes: routes)
        return HostDeployment(hosts: hosts, stacks: stacks, clients: clients)
    }

    /// `tuned` with the host's addresses: state, approval and ledger on the shared
    /// database, and every RPC service listening on the host's address too.
    static func writeHostCompose(from tuned: String, host: HostsCommand.Host, databaseURL: String, into home: RunDirectory) throws -> String {
        guard let data = FileManager.default.contents(atPath: tuned),
              case .object(var document) = try JSONValue(parsing: String(decoding: data, as: UTF8.self)),
              case .array(let services)? = document["services"]
        else { throw ChaosError("cannot read \(tuned)") }
        document["services"] = .array(services.map { service in
            guard case .object(var spec) = service, let name = spec["name"]?.stringValue else { return service }
            if ["state", "approval", "ledger"].contains(name) { spec["database"] = .string(databaseURL) }
            if let port = HostsCommand.ports[name] { spec["listen"] = .string("tcp://\(host.address):\(port)") }
            return .object(spec)
        })
        let path = home.home.appendingPathComponent("hosts-stack.json").path
        try Data(JSONValue.object(document).jsonText(pretty: true).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Starts the first host (its approval-svc makes the signing keys), gives the others
    /// the same keys, and starts them.
    func start() async throws {
        guard try stacks[0].hitl(["up"]) == 0 else { throw startFailure(0) }
        for index in stacks.indices.dropFirst() {
            try Self.copyRun(["grant-signing.key", "grant-public.key", "link-signing.key"], from: stacks[0].directory, to: stacks[index].directory)
            guard try stacks[index].hitl(["up"]) == 0 else { throw startFailure(index) }
        }
    }

    private func startFailure(_ index: Int) -> ChaosError {
        ChaosError("host \(hosts[index].name)'s stack did not start; see \(stacks[index].directory.logs.path)")
    }

    /// Stops every host's stack.
    func stop() {
        for stack in stacks { _ = try? stack.hitl(["down"]) }
    }

    /// The host gone, as a machine that lost power: its link down first (so not even a
    /// FIN or RST of its dying connections reaches the database or the clients), then
    /// every process in its namespace killed with SIGKILL, again until none is left (a
    /// supervisor could restart a service between a look and the kill).
    /// - Returns: how many processes were killed.
    func takeAway(_ index: Int, device: String) throws -> Int {
        let namespace = hosts[index].namespace
        guard try Self.run(ChaosStack.ip, ["-n", namespace, "link", "set", device, "down"]) == 0 else {
            throw ChaosError("could not take \(device) of \(namespace) down")
        }
        var killed = 0
        for _ in 0..<Self.killRounds {
            let pids = try Self.processes(inNamespace: namespace)
            if pids.isEmpty { return killed }
            for pid in pids { kill(pid, SIGKILL) }
            killed += pids.count
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ChaosError("processes of \(namespace) were still running after \(Self.killRounds) rounds of SIGKILL")
    }

    /// Rounds of SIGKILL for a host's processes: each round kills what is there, and a
    /// supervisor is among the first round's, so a few rounds leave nothing.
    static let killRounds = 20

    /// The host back: its link up, its stack started again (as after a reboot).
    func bringBack(_ index: Int, device: String) throws {
        guard try Self.run(ChaosStack.ip, ["-n", hosts[index].namespace, "link", "set", device, "up"]) == 0 else {
            throw ChaosError("could not bring \(device) of \(hosts[index].namespace) up")
        }
        guard try stacks[index].hitl(["up"]) == 0 else { throw startFailure(index) }
    }

    /// The processes running in network namespace `namespace` (`ip netns pids`).
    static func processes(inNamespace namespace: String) throws -> [pid_t] {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: ChaosStack.ip)
        process.arguments = ["netns", "pids", namespace]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ChaosError("ip netns pids \(namespace) failed") }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { pid_t($0) }.filter { $0 != getpid() }
    }

    /// Copies files or folders named `names` from one home's run folder to another's.
    static func copyRun(_ names: [String], from source: RunDirectory, to target: RunDirectory) throws {
        for name in names {
            let to = target.run.appendingPathComponent(name)
            try? FileManager.default.removeItem(at: to)
            try FileManager.default.copyItem(at: source.run.appendingPathComponent(name), to: to)
        }
    }

    /// Runs a program to its end, its output discarded; its exit status.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Single services killed and whole hosts taken away, spread over the cycles, in an
/// order the seed alone decides.
struct Disruptions: Sendable {
    let kills: Int
    let outages: Int
    let outage: Duration
    let seed: UInt64
    var device = "eth0"

    /// - Returns: a line for the summary, and what did not come back.
    func run(on deployment: HostDeployment, cycles: Int, tally: Tally) async throws -> (String, [String]) {
        var random = SeededGenerator(seed: seed ^ 0x5EED_0057_0000_0001)
        var events = Array(repeating: false, count: kills) + Array(repeating: true, count: outages)
        events.shuffle(using: &random)
        var crashes: [String: Int] = [:]
        var away: [String: Int] = [:]
        var unrecovered: [String] = []
        for (number, isOutage) in events.enumerated() {
            let due = cycles * number / max(events.count, 1)
            while await tally.finished < due { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(Int64.random(in: 0...150, using: &random)))
            let index = Int.random(in: deployment.hosts.indices, using: &random)
            let host = deployment.hosts[index]
            if isOutage {
                let killed = try deployment.takeAway(index, device: device)
                away[host.name, default: 0] += 1
                print("chaos hosts: host \(host.name) away (\(killed) processes killed, link down)")
                try await Task.sleep(for: outage)
                do {
                    try deployment.bringBack(index, device: device)
                } catch {
                    unrecovered.append("host \(host.name) did not come back: \(error)")
                }
                continue
            }
            let services = try await deployment.stacks[index].status().services.map(\.name).filter { $0 != "echo" }.sorted()
            guard let victim = services.randomElement(using: &random) else { continue }
            crashes["\(victim)@\(host.name)", default: 0] += 1
            if try await deployment.stacks[index].crash(victim) == nil {
                unrecovered.append("\(victim) on host \(host.name) did not come back within 60 s of being killed")
            }
        }
        let line = "kills: \(crashes.values.reduce(0, +)) (\(crashes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))); "
            + "hosts taken away: \(away.values.reduce(0, +)) (\(away.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))"
        return (line, unrecovered)
    }
}
