import Banking
import Foundation
import RPC
import RPCTesting
import ServiceKit
import Testing

/// The service as a process on a socket: file modes, a second instance, a
/// stale socket after a crash, graceful shutdown on SIGTERM.
@Suite(.sharedService)
struct ProcessConformanceTests {
    @Test(arguments: ConformanceTarget.all)
    func theSocketIs0600InA0700Folder(target: ConformanceTarget) async throws {
        let service = try await sharedService(target)
        var socket = stat()
        try #require(lstat(service.socket, &socket) == 0, "no socket at \(service.socket)")
        #expect(socket.st_mode & S_IFMT == S_IFSOCK, "\(service.socket) is a socket")
        #expect(socket.st_mode & 0o777 == 0o600, "socket mode is \(String(socket.st_mode & 0o777, radix: 8)), not 600")
        #expect(socket.st_uid == getuid())
        var folder = stat()
        try #require(stat(service.home.directory.run.path, &folder) == 0)
        #expect(folder.st_mode & 0o777 == 0o700, "run folder mode is \(String(folder.st_mode & 0o777, radix: 8)), not 700")
    }

    /// The run folder is made private by the service itself, even when it was not.
    @Test(arguments: ConformanceTarget.all)
    func aLooseRunFolderIsTightenedAtStart(target: ConformanceTarget) async throws {
        let home = try TestHome.make()
        #expect(chmod(home.directory.run.path, 0o755) == 0)
        let service = try await RunningService.launch(target, home: home)
        var folder = stat()
        #expect(stat(home.directory.run.path, &folder) == 0)
        #expect(folder.st_mode & 0o777 == 0o700)
        #expect(await service.stop() == 0)
    }

    /// A socket folder others can enter is refused, with what to do about it.
    @Test(arguments: ConformanceTarget.all)
    func aSharedSocketFolderIsRefused(target: ConformanceTarget) async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        if target.needsGrantKey { _ = try GrantKeys.loadOrCreateSigner(in: home.directory) }
        let open = home.directory.home.appendingPathComponent("open").path
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false)
        #expect(chmod(open, 0o755) == 0)
        let run = try await Program.run(
            Executables.path(target.executable),
            ["--home", home.directory.home.path, "--socket", open + "/\(target.service).sock"] + target.arguments,
            timeout: .seconds(20))
        #expect(run.status != 0, "the service must refuse a socket folder with mode 755")
        #expect(run.output.contains("chmod 700"), "the error says what to do: \(run.output)")
        #expect(!FileManager.default.fileExists(atPath: open + "/\(target.service).sock"))
    }

    @Test(arguments: ConformanceTarget.all)
    func aSecondInstanceOnALiveSocketFailsAndTheFirstKeepsServing(target: ConformanceTarget) async throws {
        try await withOwnService(target) { first in
            let connection = try await first.connect()
            defer { Task { await connection.close() } }
            let run = try await Program.run(
                Executables.path(target.executable), ["--home", first.home.directory.home.path] + target.arguments, timeout: .seconds(20))
            #expect(run.status != 0, "a second instance on a live socket must fail")
            #expect(run.output.contains("already serving"), "the error says why: \(run.output)")
            #expect(first.process.process.isRunning)
            expectResult(try await connection.next(after: request("health.check", id: "1")), id: .int(1))
            let fresh = try await first.connect()
            defer { Task { await fresh.close() } }
            let health = expectResult(try await fresh.next(after: request("health.check", id: "2")), id: .int(2))
            #expect(health?["pid"] == .int(Int64(first.process.pid)), "the first instance still owns the socket")
        }
    }

    @Test(arguments: ConformanceTarget.all)
    func aStaleSocketLeftByKill9IsReplaced(target: ConformanceTarget) async throws {
        let crashed = try await RunningService.launch(target)
        let home = crashed.home
        await crashed.process.kill9()
        #expect(FileManager.default.fileExists(atPath: crashed.socket), "kill -9 leaves the socket file behind")
        let restarted = try await RunningService.launch(target, home: home)
        let connection = try await restarted.connect()
        let health = expectResult(try await connection.next(after: request("health.check", id: "1")), id: .int(1))
        #expect(health?["pid"] == .int(Int64(restarted.process.pid)))
        await connection.close()
        #expect(await restarted.stop() == 0)
    }

    @Test(arguments: ConformanceTarget.all)
    func sigtermExitsZeroAndRemovesTheSocket(target: ConformanceTarget) async throws {
        let service = try await RunningService.launch(target, arguments: ["--drain-timeout-ms", "60000"])
        let socket = service.socket
        let home = service.home
        defer { home.remove() }
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await service.process.terminate(timeout: .seconds(90)) == 0)
        #expect(clock.now - started < .seconds(20), "nothing in flight: shutdown does not wait for the 60 s drain bound")
        #expect(!FileManager.default.fileExists(atPath: socket), "a clean exit removes its socket")
    }

    /// While draining, `health.watch` reports NOT_SERVING, then ends with it.
    @Test(arguments: ConformanceTarget.all)
    func healthWatchReportsNotServingWhileDraining(target: ConformanceTarget) async throws {
        let service = try await RunningService.launch(target)
        defer { service.home.remove() }
        let watcher = try await service.connect()
        defer { Task { await watcher.close() } }
        try await watcher.send(request("health.watch", id: "\"w\"") + "\n")
        let first = try #require(try await watcher.next())
        #expect(first["params"]?["status"] == .string("SERVING"))
        // The watch is a call in flight: shutdown waits for it, and it ends by itself.
        let exit = Task { await service.process.terminate() }
        let ending = try await watcher.exchange(for: .string("w"))
        let statuses = ending.notifications.compactMap { $0["params"]?["status"] }
        #expect(statuses.last == .string("NOT_SERVING"), "the watch reports NOT_SERVING before it ends: \(statuses)")
        for event in ending.notifications { WireRules.check(event: event, method: service.eventMethod, requestID: .string("w")) }
        #expect(expectResult(ending.response, id: .string("w")) == .object(["status": .string("NOT_SERVING")]))
        #expect(await exit.value == 0)
    }

    /// A stream dropped by its caller does not hold shutdown until the drain timeout.
    @Test(arguments: ConformanceTarget.all)
    func aDroppedStreamDoesNotHoldShutdown(target: ConformanceTarget) async throws {
        let service = try await RunningService.launch(target, arguments: ["--drain-timeout-ms", "60000"])
        defer { service.home.remove() }
        let connection = try await service.connect()
        try await connection.send(request("health.watch", id: "1") + "\n" + request("health.watch", id: "2", meta: #"{"deadline_ms":600000}"#) + "\n")
        _ = try #require(try await connection.readLine())
        _ = try #require(try await connection.readLine())
        await connection.close()
        let probe = try await service.connect()
        expectResult(try await probe.next(after: request("health.check", id: "1")), id: .int(1))
        await probe.close()
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await service.process.terminate(timeout: .seconds(30)) == 0)
        #expect(clock.now - started < .seconds(20), "shutdown took \(clock.now - started): a call of a closed connection was still counted")
    }
}
