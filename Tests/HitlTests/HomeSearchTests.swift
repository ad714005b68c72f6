import Foundation
import RPC
import RPCTesting
import Testing

@testable import HitlCLI

/// `hitl` finds the stack's home from any folder: `--home`, `$HITL_HOME`, the
/// pointer the supervisor writes (`$XDG_CONFIG_HOME/hitl/home`), then the
/// repository's `.hitl`; and says what it looked for when there is none.
/// Every run points HOME and XDG_CONFIG_HOME into the test's folder: the
/// developer's own ~/.config is never read or written.
@Suite(.serialized)
struct HomeSearchTests {
    @Test func theOrderIsHomeOptionEnvironmentPointerRepository() throws {
        let scratch = try TestHome.make(identities: [])
        defer { scratch.remove() }
        let root = scratch.directory.home
        let config = root.appendingPathComponent("config").path
        let fromPointer = try Self.folder(root, "pointed/run")
        let repository = try Self.folder(root, "repo/compose")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: repository).appendingPathComponent("stack.json"))
        let inside = try Self.folder(root, "repo/Sources/deep")
        try Self.writePointer(fromPointer.replacingOccurrences(of: "/run", with: ""), config: config)
        let environment = ["XDG_CONFIG_HOME": config, "HOME": root.path]

        let all = HomeSearch.resolve(explicit: "/x/option", environment: environment.merging(["HITL_HOME": "/x/env"]) { $1 }, workingDirectory: inside)
        #expect(all.directory.home.path == "/x/option" && all.source == .option)
        let noOption = HomeSearch.resolve(explicit: nil, environment: environment.merging(["HITL_HOME": "/x/env"]) { $1 }, workingDirectory: inside)
        #expect(noOption.directory.home.path == "/x/env" && noOption.source == .environment)
        let pointer = HomeSearch.resolve(explicit: nil, environment: environment, workingDirectory: inside)
        #expect(pointer.directory.home.path == root.appendingPathComponent("pointed").path && pointer.source == .pointer, "\(pointer.trail)")

        // A pointer to a home that is gone is passed over; the repository's .hitl is next,
        // found from a folder deep inside the repository.
        try FileManager.default.removeItem(atPath: fromPointer)
        let repositoryHome = HomeSearch.resolve(explicit: nil, environment: environment, workingDirectory: inside)
        #expect(repositoryHome.source == .repository)
        #expect(repositoryHome.directory.home.path == root.appendingPathComponent("repo/.hitl").path)
        #expect(repositoryHome.trail[2].contains("holds no stack"), "\(repositoryHome.trail)")

        // XDG_CONFIG_HOME unset: ~/.config/hitl/home.
        #expect(HomeSearch.pointerPath(environment: ["HOME": "/u/me"]) == "/u/me/.config/hitl/home")
    }

    /// A stack started in one folder is found from another: by its pointer while it
    /// runs; said to be "not running" (never "hitl init") once it is stopped; and when
    /// nothing is found, the error lists what was looked for, in order.
    @Test(.timeLimit(.minutes(2)))
    func aStackIsFoundFromAnyFolder() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let hitl = HitlRunner(home: home)
        let root = home.directory.home
        let elsewhere = try Self.folder(root, "elsewhere")
        let user = ["HOME": try Self.folder(root, "user")]
        let compose = root.appendingPathComponent("echo-only.json").path
        try Self.writeEchoOnlyStack(to: compose)
        // As a user without HITL_HOME, in a folder outside the repository.
        func fromElsewhere(_ arguments: [String], environment: [String: String] = [:]) async throws -> HitlRunner.Outcome {
            try await hitl.run(arguments, environment: user.merging(environment) { $1 }, unsetting: ["HITL_HOME", "HITL_COMPOSE"], in: elsewhere)
        }

        let up = try await hitl.run(["stack", "up", "--compose", compose], environment: user)
        try #require(up.status == 0, "\(up.transcript)")
        do {
            let pointer = URL(fileURLWithPath: hitl.configFolder).appendingPathComponent("hitl/home").path
            #expect((try? String(contentsOfFile: pointer, encoding: .utf8)) == root.path + "\n", "the supervisor records its home")

            let health = try await fromElsewhere(["health", "--json"])
            #expect(health.status == 0, "\(health.transcript)")
            let rows = (try? JSONValue(parsing: health.stdout))?.arrayValues ?? []
            #expect(rows.map { [$0["service"]?.stringValue, $0["status"]?.stringValue] } == [["echo", "SERVING"]], "\(health.stdout)")
            let call = try await fromElsewhere(["call", "echo", "echo.add", #"{"a": 2, "b": 3}"#, "--json"])
            #expect(call.status == 0 && (try? JSONValue(parsing: call.stdout))?["sum"] == 5, "\(call.transcript)")
            // No stack definition here: the supervisor says which services there are.
            let typo = try await fromElsewhere(["call", "ehco", "echo.add"])
            #expect(typo.status == 2 && typo.stderr.contains("unknown service 'ehco'") && typo.stderr.contains("did you mean 'echo'"), "\(typo.transcript)")
            let restart = try await fromElsewhere(["stack", "restart", "ehco"])
            #expect(restart.status == 2 && restart.stderr.contains("SERVICE_NOT_FOUND"), "\(restart.transcript)")
        } catch {
            _ = try? await hitl.run(["stack", "down"])
            throw error
        }
        let down = try await hitl.run(["stack", "down"])
        try #require(down.status == 0, "\(down.transcript)")

        // Stopped: the pointer (or HITL_HOME) still names it; it is not running.
        for environment in [[:], ["HITL_HOME": root.path]] {
            let stopped = try await fromElsewhere(["health"], environment: environment)
            #expect(stopped.status == 3, "\(stopped.transcript)")
            #expect(stopped.stderr.contains("the stack at \(root.path) is not running: scripts/stack up"), "\(stopped.transcript)")
            #expect(!stopped.stderr.contains("hitl init"), "\(stopped.transcript)")
        }

        // Nothing anywhere: what was looked for, in order, and no `hitl init`.
        try? FileManager.default.removeItem(atPath: hitl.configFolder)
        for arguments in [["health"], ["call", "echo", "echo.add"]] {
            let lost = try await fromElsewhere(arguments)
            #expect(lost.status == 3, "\(lost.transcript)")
            let places = ["1. --home", "2. $HITL_HOME", "3. \(hitl.configFolder)/hitl/home", "4. the repository's .hitl, \(elsewhere)/.hitl"]
            for place in places { #expect(lost.stderr.contains("\n  \(place)"), "\(place): \(lost.transcript)") }
            #expect(!lost.stderr.contains("hitl init"), "\(lost.transcript)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(elsewhere)/.hitl"), "looking creates nothing")
    }

    private static func folder(_ root: URL, _ path: String) throws -> String {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    private static func writePointer(_ home: String, config: String) throws {
        let folder = URL(fileURLWithPath: config).appendingPathComponent("hitl")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data((home + "\n").utf8).write(to: folder.appendingPathComponent("home"))
    }

    /// A stack of one service: quick to start and stop.
    private static func writeEchoOnlyStack(to path: String) throws {
        let definition: JSONValue = [
            "identities": [["name": "operator", "role": "operator"], ["name": "agent", "role": "agent"]],
            "services": [["name": "echo", "executable": "echo-svc"]],
        ]
        try Data(definition.jsonText(pretty: true).utf8).write(to: URL(fileURLWithPath: path))
    }
}
