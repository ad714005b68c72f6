import Foundation
import NIOCore
import NIOPosix

/// Where a process runs its Swift tasks.
///
/// By default Swift runs tasks on its own thread pool and NIO runs I/O on its event
/// loops, so every RPC call crosses threads twice: the task hands its request to
/// the connection's event loop, and the answer wakes the task on another thread.
/// On this project's two-core machines each crossing is a futex wake and a context
/// switch, most of a call's latency. With the event loops as the global executor,
/// a task resumed by an answer runs on the loop that read it, writes its next
/// request inline, and no thread is woken for it.
///
/// Safe for a process whose tasks never block a thread: the services do their
/// blocking work (SQLite, libcurl) on `NIOThreadPool`s, never in a task.
public enum TaskExecutor {
    /// Set to `swift`, the process keeps Swift's own pool (to compare the two).
    public static let variable = "HITL_TASK_EXECUTOR"

    /// Installs NIO's singleton event loops as Swift concurrency's global
    /// executor, unless ``variable`` says `swift`. Call it first thing in `main`,
    /// on the main thread, once.
    /// - Returns: whether tasks now run on the event loops.
    @discardableResult
    public static func useEventLoops() -> Bool {
        guard ProcessInfo.processInfo.environment[variable] != "swift" else { return false }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
