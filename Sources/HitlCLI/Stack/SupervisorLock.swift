import Foundation
import RPC

/// `run/stack.pid`, held with `flock` for the supervisor's whole life: only
/// one supervisor per home, even when two `hitl stack up` race on a fresh home
/// (before either could bind run/stack.sock, both would provision tokens).
/// The kernel releases the lock when the process dies, however it dies.
struct SupervisorLock {
    private let descriptor: Int32
    private let path: String

    /// Locks the pid file and writes this process's pid into it.
    /// - Parameter path: `run/stack.pid`.
    /// - Throws: ``RunDirectoryError`` when another supervisor holds it.
    init(path: String) throws {
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RunDirectoryError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            throw RunDirectoryError(
                "another supervisor (pid \(holder ?? "unknown")) already runs for this home; see `hitl stack status`, or stop it with `hitl stack down`")
        }
        let text = Array("\(getpid())\n".utf8)
        guard ftruncate(descriptor, 0) == 0, text.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == text.count else {
            close(descriptor)
            throw RunDirectoryError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        self.path = path
    }

    /// Removes the pid file and releases the lock.
    func release() {
        unlink(path)
        close(descriptor)
    }
}
