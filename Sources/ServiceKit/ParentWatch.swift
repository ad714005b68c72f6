import Foundation
import Logging
import ServiceLifecycle

/// Shuts the service down gracefully once the process that started it is gone.
///
/// On only when `HITL_EXIT_WITH_PARENT=1` (``ServiceMain/exitWithParentVariable``),
/// which the test harness sets for every service it starts: a test process that
/// ends (or crashes) before its clean-up ran must not leave services behind. The
/// stack's supervisor does not set it: there each service outlives anything but
/// `scripts/stack down`. It polls `getppid()` (an orphan is reparented), and sends
/// itself SIGTERM, so the shutdown is the usual one: stop accepting, drain, exit.
struct ParentWatch: Service {
    /// How often the parent is checked: a leaked service lives at most this long.
    static let interval: Duration = .milliseconds(250)

    let parent: pid_t
    let logger: Logger

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled, getppid() == parent { try? await Task.sleep(for: Self.interval) }
            guard !Task.isCancelled else { return }
            logger.notice("the process that started this service exited; shutting down", metadata: ["parent.pid": "\(parent)"])
            kill(getpid(), SIGTERM)
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(1)) }
        }
    }
}
