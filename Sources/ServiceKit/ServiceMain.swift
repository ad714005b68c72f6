import ArgumentParser
import Foundation
import Logging
import RPC
import ServiceLifecycle

/// Runs a service executable: logging to stderr, identities from the run
/// directory, the RPC server and any helpers in one `ServiceGroup` that shuts
/// down gracefully on SIGTERM or SIGINT.
public enum ServiceMain {
    /// Set to `1`, the service stops when the process that started it exits (see ``ParentWatch``).
    public static let exitWithParentVariable = "HITL_EXIT_WITH_PARENT"

    /// A service's entry point: runs its tasks on the event loops (see ``TaskExecutor``),
    /// then parses the command line and runs the command.
    ///
    /// Synchronous on purpose: the main thread waits on a semaphore while the command
    /// runs as a task. An async main parks the main thread in `dispatch_main`, which
    /// exits it (pthread_exit with a TSD destructor), and valgrind 3.19 (Debian 12's)
    /// crashes on that before the first instruction is counted, so no service could be
    /// profiled with callgrind. The code that runs is the same.
    /// - Parameters:
    ///   - command: the service's command type.
    public static func main<Command: AsyncParsableCommand>(_ command: Command.Type) -> Never {
        TaskExecutor.useEventLoops()
        let done = DispatchSemaphore(value: 0)
        Task {
            await command.main(nil)  // exits by itself with the command's code when it fails
            done.signal()
        }
        done.wait()
        exit(0)
    }

    /// Bootstraps logging once per process: one line per event on stderr.
    /// - Parameters:
    ///   - level: the lowest level written.
    public static func bootstrapLogging(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Serves until SIGTERM/SIGINT, then drains and returns.
    /// - Parameters:
    ///   - description: the service's name, version and contract.
    ///   - options: the parsed command-line options.
    ///   - services: other long-running parts of the service (timers, followers).
    ///   - register: adds the service's methods.
    /// - Throws: `ExitCode.failure` after logging why the service could not start.
    ///   - identities: the identities to serve with, when the service also reads them
    ///     itself (nil: loaded from the run directory here). Either way they are reloaded
    ///     when `run/identities.json` changes or on SIGHUP.
    public static func run(
        description: RPCServiceDescription, options: ServiceOptions, services: [any Service] = [],
        identities given: LiveIdentities? = nil,
        register: @escaping @Sendable (inout RPCRouterBuilder) -> Void
    ) async throws {
        let logger = Logger(label: description.name)
        let directory = options.directory
        do {
            try directory.prepare()
            let identities = try given ?? LiveIdentities(directory: directory)
            let configuration = RPCServerConfiguration(
                socketPath: options.socket ?? directory.socketPath(for: description.name),
                maximumLineBytes: options.maxLineBytes,
                drainTimeout: .milliseconds(options.drainTimeoutMs), tcp: try options.tcpListener(for: description.name))
            let server = RPCServer(
                description: description, configuration: configuration, liveIdentities: identities, logger: logger,
                register: register)
            var helpers = services + [IdentityWatcher(identities: identities, logger: logger)]
            if ProcessInfo.processInfo.environment[exitWithParentVariable] == "1" {
                helpers.append(ParentWatch(parent: getppid(), logger: logger))
            }
            let group = ServiceGroup(
                services: [server] + helpers, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        } catch let error as ServerStartupError {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode.failure
        } catch let error as RunDirectoryError {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode.failure
        } catch let error as RPCTLSError {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode.failure
        }
    }
}
