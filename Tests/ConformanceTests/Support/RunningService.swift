import Banking
import Foundation
import RPC
import RPCTesting
import ServiceKit
import Testing

/// A target's process on a test home of its own, and ways to talk to it.
final class RunningService: Sendable {
    /// What runs.
    let target: ConformanceTarget
    /// Its private home: run folder, tokens, logs.
    let home: TestHome
    /// The process.
    let process: ServiceProcess

    private init(target: ConformanceTarget, home: TestHome, process: ServiceProcess) {
        self.target = target
        self.home = home
        self.process = process
    }

    /// Starts the target on a new home and waits until it reports SERVING.
    /// - Parameters:
    ///   - target: the service.
    ///   - arguments: arguments beyond the target's own.
    ///   - home: an existing home (default: a new one).
    static func launch(_ target: ConformanceTarget, arguments: [String] = [], home: TestHome? = nil) async throws -> RunningService {
        let home = try home ?? TestHome.make()
        if target.needsGrantKey { _ = try GrantKeys.loadOrCreateSigner(in: home.directory) }
        let process = try await ServiceProcess.launch(
            target.executable, service: target.service, home: home,
            arguments: target.arguments + arguments, environment: target.environment)
        return RunningService(target: target, home: home, process: process)
    }

    /// The service's socket.
    var socket: String { home.socket(target.service) }

    /// The method streaming notifications carry: `<service>.event`.
    var eventMethod: String { "\(target.service).event" }

    /// A new raw connection to the service.
    func connect() async throws -> RawConnection {
        try await RawConnection.connect(socket)
    }

    /// The token of an identity in this home (`operator`, `agent`, `approver1`, `approver2`).
    func token(_ identity: String) throws -> String { try home.token(identity) }

    /// SIGTERM, wait for the exit, and remove the home. Returns the exit status.
    @discardableResult
    func stop() async -> Int32 {
        let status = await process.terminate()
        home.remove()
        return status
    }
}

/// Runs `body` against a process of its own (for tests that stop, kill or
/// drain the service), stopping it and removing its home afterwards.
/// - Parameters:
///   - target: the service.
///   - arguments: extra arguments.
///   - body: the test.
func withOwnService<Result>(
    _ target: ConformanceTarget, arguments: [String] = [], _ body: (RunningService) async throws -> Result
) async throws -> Result {
    let service = try await RunningService.launch(target, arguments: arguments)
    do {
        let result = try await body(service)
        await service.stop()
        return result
    } catch {
        await service.stop()
        throw error
    }
}
