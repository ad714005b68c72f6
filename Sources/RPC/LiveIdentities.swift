import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The identities a running service trusts now: `run/identities.json`, reloaded when
/// the file changes or on SIGHUP (``IdentityWatcher``), so a removed identity's token
/// is refused from the next call on, without a restart.
public final class LiveIdentities: Sendable {
    private let registry: Mutex<IdentityRegistry>
    /// Tokens recently identified, and whose they are: hashing the token (SHA-256)
    /// was 17.6k instructions of every authenticated call (callgrind, echo.echo), and a
    /// service hears the same few tokens all day. Only known tokens are kept, so a
    /// caller trying tokens cannot fill it; emptied whenever the identities change, so
    /// a removed identity is refused from the next call on, as before.
    private let recent = Mutex<[String: Identity]>([:])
    /// The most tokens ``recent`` keeps (one per identity in any real deployment; when
    /// full it starts again empty).
    static let recentTokensLimit = 256
    /// Where it reloads from (nil: fixed, as tests build it).
    let directory: RunDirectory?

    /// A fixed registry that never reloads (tests, in-process servers).
    /// - Parameter registry: the identities.
    public init(_ registry: IdentityRegistry) {
        self.registry = Mutex(registry)
        self.directory = nil
    }

    /// Loads `run/identities.json` of `directory`; ``reload()`` reads it again.
    /// - Parameter directory: the run directory.
    /// - Throws: ``RunDirectoryError`` when the file is missing or malformed.
    public init(directory: RunDirectory) throws {
        self.registry = Mutex(try IdentityRegistry.load(from: directory))
        self.directory = directory
    }

    /// The identities as they stand now.
    public var current: IdentityRegistry { registry.withLock { $0 } }

    /// The identity a token belongs to now, or nil for an unknown (or revoked) token.
    /// - Parameter token: the token from `params._meta.token`.
    public func identify(token: String) -> Identity? {
        if let known = recent.withLock({ $0[token] }) { return known }
        let digest = IdentityRegistry.digest(of: token)
        // Looked up and remembered under one lock order (registry, then recent), so a
        // reload that empties `recent` cannot be overtaken by an identity it removed.
        return registry.withLock { registry in
            guard let identity = registry.identify(digest: digest) else { return nil }
            recent.withLock { recent in
                if recent.count >= Self.recentTokensLimit { recent.removeAll(keepingCapacity: true) }
                recent[token] = identity
            }
            return identity
        }
    }

    /// The identity with this name now, or nil.
    /// - Parameter name: e.g. `approver1`.
    public func identity(named name: String) -> Identity? {
        registry.withLock { $0.identity(named: name) }
    }

    /// Reads the file again.
    /// - Returns: whether anything changed, and the names added and removed.
    /// - Throws: ``RunDirectoryError`` when the file cannot be read; the identities stay as they were.
    @discardableResult
    public func reload() throws -> (changed: Bool, added: [String], removed: [String]) {
        guard let directory else { return (false, [], []) }
        let fresh = try IdentityRegistry.load(from: directory)
        return registry.withLock { current in
            let before = Set(current.identities.map(\.name))
            let after = Set(fresh.identities.map(\.name))
            let changed = current != fresh
            current = fresh
            if changed { recent.withLock { $0.removeAll() } }
            return (changed, after.subtracting(before).sorted(), before.subtracting(after).sorted())
        }
    }
}

/// Reloads ``LiveIdentities`` when `run/identities.json` changes (its inode, size or
/// modification time; the provisioner replaces it by rename) or on SIGHUP.
public struct IdentityWatcher: Service {
    /// How often the file is looked at: a removed identity must stop working within a
    /// second, and one `stat` four times a second costs nothing measurable.
    public static let pollInterval: Duration = .milliseconds(250)

    let identities: LiveIdentities
    let logger: Logger
    let interval: Duration

    /// - Parameters:
    ///   - identities: what to reload (one built with ``LiveIdentities/init(directory:)``).
    ///   - logger: where reloads are logged.
    ///   - interval: how often the file is looked at.
    public init(identities: LiveIdentities, logger: Logger, interval: Duration = IdentityWatcher.pollInterval) {
        self.identities = identities
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        guard let directory = identities.directory else { return }
        let path = directory.identities.path
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals {
                        reload(because: "SIGHUP")
                    }
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
            let change = try identities.reload()
            guard change.changed || cause == "SIGHUP" else { return }
            logger.notice("identities reloaded", metadata: [
                "cause": "\(cause)", "identities.added": "\(change.added.joined(separator: ","))",
                "identities.removed": "\(change.removed.joined(separator: ","))",
            ])
        } catch {
            logger.error("identities not reloaded; keeping the previous ones", metadata: ["cause": "\(cause)", "error": "\(error)"])
        }
    }
}

/// What identifies a file's version without reading it: inode, size and modification time.
public struct FileStamp: Equatable, Sendable {
    let inode: UInt64
    let size: Int64
    let modified: Int64

    /// - Parameter path: the file.
    /// - Returns: nil when the file cannot be looked at (it is missing).
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}
