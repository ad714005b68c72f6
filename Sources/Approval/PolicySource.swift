import Foundation
import Logging
import RPC
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The policy in force: loaded from its file at start, and again whenever the file
/// changes or the service gets SIGHUP (``PolicyWatcher``). A file that does not
/// validate is refused with the reason in the log, and the policy in force stays;
/// every approval records the version that decided it.
public final class PolicySource: Sendable {
    private let policy: Mutex<Policy>
    /// The file it reloads from (nil: fixed, as tests build it).
    public let path: String?

    /// A policy that never changes.
    /// - Parameter policy: the policy.
    public init(_ policy: Policy) {
        self.policy = Mutex(policy)
        self.path = nil
    }

    /// Loads the file; ``reload()`` reads it again.
    /// - Parameter path: the policy file.
    /// - Throws: ``PolicyError`` naming the rule and field at fault.
    public init(path: String) throws {
        self.policy = Mutex(try Policy.load(path: path))
        self.path = path
    }

    /// The policy in force now.
    public var current: Policy { policy.withLock { $0 } }

    /// Reads the file again; a file that does not validate changes nothing.
    /// - Returns: the previous and the new version (equal when the file's version did not change).
    /// - Throws: ``PolicyError``: the policy in force stays.
    @discardableResult
    public func reload() throws -> (previous: String, current: String) {
        guard let path else { let version = current.version; return (version, version) }
        let fresh = try Policy.load(path: path)
        return policy.withLock { current in
            let previous = current.version
            current = fresh
            return (previous, fresh.version)
        }
    }
}

/// Reloads the policy when its file changes (by inode, size or modification time)
/// or on SIGHUP, logging the version now in force or why the file was refused.
public struct PolicyWatcher: Service {
    /// How often the file is looked at: an operator who saves the file sees it in force
    /// within a second; a `stat` per second costs nothing.
    public static let pollInterval: Duration = .seconds(1)

    let source: PolicySource
    let logger: Logger
    let interval: Duration

    /// - Parameters:
    ///   - source: the policy to reload (one built from a file).
    ///   - logger: where reloads are logged.
    ///   - interval: how often the file is looked at.
    public init(source: PolicySource, logger: Logger, interval: Duration = PolicyWatcher.pollInterval) {
        self.source = source
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        guard let path = source.path else { return }
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals { reload(because: "SIGHUP") }
                }
                group.addTask {
                    var last = FileStamp(path: path)
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        let now = FileStamp(path: path)
                        if now != last, now != nil {
                            last = now
                            reload(because: "the file changed")
                        }
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    private func reload(because cause: String) {
        do {
            let versions = try source.reload()
            logger.notice("policy reloaded", metadata: [
                "cause": "\(cause)", "policy.previous_version": "\(versions.previous)", "policy.version": "\(versions.current)",
            ])
        } catch {
            logger.error("policy file refused; the policy in force stays", metadata: [
                "cause": "\(cause)", "policy.version": "\(source.current.version)", "error": "\(error)",
            ])
        }
    }
}
