import Foundation
import Logging
import ServiceLifecycle

/// The durable expiry timer: expiry times live in the database, so this only
/// wakes up to apply them. A sweep at start-up (``ApprovalEngine/expireDue()``)
/// handles whatever expired while the service was down.
public struct ExpiryTimer: Service {
    /// The longest sleep between sweeps: bounds how late an expiry is applied
    /// when a shorter one is submitted while the timer sleeps.
    static let maximumSleep: TimeInterval = 1
    /// The shortest sleep: never spin.
    static let minimumSleep: TimeInterval = 0.02
    /// After a failed sweep (disk full, say): try again, without flooding the log.
    static let retryAfterFailure: TimeInterval = 5

    let engine: ApprovalEngine

    /// - Parameter engine: the approval queue to sweep.
    public init(engine: ApprovalEngine) { self.engine = engine }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let pause: TimeInterval
                do {
                    try await engine.expireDue()
                    let next = try await engine.nextExpiry()
                    let wait = next.map { $0.timeIntervalSince(engine.clock.now()) } ?? Self.maximumSleep
                    pause = min(max(wait, Self.minimumSleep), Self.maximumSleep)
                } catch is CancellationError {
                    return
                } catch {
                    engine.logger.error("expiry sweep failed", metadata: ["error": "\(error)"])
                    pause = Self.retryAfterFailure
                }
                try? await Task.sleep(for: .milliseconds(Int64(pause * 1000)))
            }
        }
    }
}
