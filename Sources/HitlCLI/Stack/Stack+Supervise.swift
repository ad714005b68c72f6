import ArgumentParser
import Foundation
import Logging
import RPC
import ServiceLifecycle

extension Stack {
    /// `hitl stack supervise`
    struct Supervise: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the supervisor in the foreground (what `up` starts in the background).",
            discussion: """
                Provisions identity tokens (existing ones are kept), serves stack.status, \
                stack.restart and stack.stop on <home>/run/stack.sock, starts the services in \
                order and keeps them running. Logs one line per event to stderr. SIGTERM or \
                Ctrl-C stops every service in reverse order, then exits 0.

                Examples:
                  hitl stack supervise                       # watch the stack in this terminal
                  hitl stack supervise --home /tmp/demo --log-level debug
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var stack: StackOptions

        @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
        var logLevel: String = "info"

        func validate() throws {
            guard Logger.Level(rawValue: logLevel) != nil else {
                throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical")
            }
        }

        func run() async throws {
            let level = Logger.Level(rawValue: logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "stack")
            do {
                try await supervise(logger: logger)
            } catch let error as ServerStartupError {
                logger.critical("cannot start: \(error.description)")
                throw ExitCode.failure
            } catch let error as RunDirectoryError {
                logger.critical("cannot start: \(error.description)")
                throw ExitCode.failure
            }
        }

        private func supervise(logger: Logger) async throws {
            let (composePath, definition) = try stack.load()
            let directory = global.directory
            try directory.prepare()
            let lock = try SupervisorLock(path: directory.supervisorPidPath)
            defer { lock.release() }
            let before = IdentityProvisioner.provisionedNames(in: directory)
            let identities = try IdentityProvisioner.provision(definition.identities.map(\.identity), in: directory)
            let removed = try IdentityProvisioner.revoke(before.subtracting(definition.identities.map(\.name)), in: directory)
            if !removed.isEmpty {
                logger.notice("identities revoked: no longer in the stack definition", metadata: ["identities": "\(removed.joined(separator: ","))"])
            }
            let supervisor = Supervisor(
                configuration: .init(
                    definition: definition, directory: directory, binFolder: StackOptions.binFolder,
                    environment: ProcessInfo.processInfo.environment),
                logger: logger)
            let server = RPCServer(
                description: try RPCServiceDescription(name: Supervisor.serviceName, openRPC: PackageResources.stack_openrpc_json),
                configuration: RPCServerConfiguration(socketPath: directory.supervisorSocket),
                identities: identities, logger: logger
            ) { router in
                supervisor.register(&router)
            }
            // Serve before starting anything, so stack.status answers from the first moment.
            try await server.start()
            recordHome(directory, logger: logger)
            logger.notice("supervising \(definition.services.count) service(s)", metadata: [
                "pid": "\(getpid())", "home": "\(directory.home.path)", "compose": "\(composePath)",
                "bin": "\(StackOptions.binFolder)",
            ])
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: server),
                    // Listed last so graceful shutdown stops it first: the services stop
                    // while stack.status still answers. Its return ends the group (stack.stop).
                    .init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }

        /// Writes the home into the pointer file (``HomeSearch``), so `hitl` finds
        /// this stack from any folder; a failure to write it stops nothing.
        private func recordHome(_ directory: RunDirectory, logger: Logger) {
            let environment = ProcessInfo.processInfo.environment
            let pointer = HomeSearch.pointerPath(environment: environment)
            do {
                if try !HomeSearch.record(directory, environment: environment) {
                    logger.notice("kept \(pointer): it names another stack that is running")
                }
            } catch {
                logger.warning("cannot record the home in \(pointer): \(error)")
            }
        }
    }
}

extension Supervisor {
    /// Registers `stack.status`, `stack.restart` and `stack.stop`.
    /// - Parameter router: the supervisor's router.
    nonisolated func register(_ router: inout RPCRouterBuilder) {
        router.register("stack.status", params: NoParams.self) { _, _ in
            await self.status()
        }
        router.register("stack.restart", params: StackRestartParams.self, options: .init(access: .roles(["operator"]))) { params, _ in
            try await self.requestRestart(params.service)
        }
        router.register("stack.stop", params: NoParams.self, options: .init(access: .roles(["operator"]))) { _, _ in
            await self.requestStop()
        }
    }
}
