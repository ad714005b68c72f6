import Foundation
import RPCTesting
import Testing

/// One process per target, shared by the tests of a suite.
///
/// Starting a service costs far more than most checks, so a suite marked
/// `.sharedService` starts each target once, on first use, and every test of the
/// suite talks to it over connections of its own. When the suite ends, each
/// shared process must still be running (nothing the suite sent it killed it)
/// and must exit 0 on SIGTERM.
struct SharedServiceTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let pool = ServicePool()
        do {
            try await ServicePool.$current.withValue(pool) { try await function() }
        } catch {
            await pool.shutDown()
            throw error
        }
        for problem in await pool.shutDown() {
            Issue.record(Comment(rawValue: problem))
        }
    }
}

extension Trait where Self == SharedServiceTrait {
    /// Shares one process per target among the suite's tests; see ``SharedServiceTrait``.
    static var sharedService: Self { SharedServiceTrait() }
}

/// The shared processes of one suite, started lazily.
actor ServicePool {
    /// The pool of the suite being run.
    @TaskLocal static var current: ServicePool?

    private var launches: [ConformanceTarget: Task<RunningService, any Error>] = [:]

    /// The shared process for `target`, started on first use.
    func service(for target: ConformanceTarget) async throws -> RunningService {
        if let launch = launches[target] { return try await launch.value }
        let launch = Task { try await RunningService.launch(target) }
        launches[target] = launch
        return try await launch.value
    }

    /// Stops every shared process; returns what went wrong (a process that died
    /// during the suite, or exited non-zero on SIGTERM).
    @discardableResult
    func shutDown() async -> [String] {
        var problems: [String] = []
        for (target, launch) in launches {
            guard let service = try? await launch.value else { continue }
            if !service.process.process.isRunning {
                problems.append("""
                    \(target.executable) died during the suite (status \(service.process.process.terminationStatus)): \
                    some input killed it. Its log:\n\(service.process.log)
                    """)
                service.home.remove()
                continue
            }
            let log = service.process.log
            let status = await service.stop()
            if status != 0 {
                problems.append("\(target.executable) exited with status \(status) on SIGTERM, not 0. Its log:\n\(log)")
            }
        }
        launches.removeAll()
        return problems
    }
}

/// The suite's shared process for `target` (the suite must be marked `.sharedService`).
func sharedService(_ target: ConformanceTarget) async throws -> RunningService {
    guard let pool = ServicePool.current else {
        throw ConformanceFailure("this test needs a shared service: mark its suite with @Suite(.sharedService)")
    }
    return try await pool.service(for: target)
}

/// A failed precondition of a conformance check, said plainly.
struct ConformanceFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
