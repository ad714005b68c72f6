import ArgumentParser
import Foundation
import Gateway
import Logging
import RPC
import ServiceKit

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "The HTTP front door: SSE chat, decisions, approve/reject links and the approval web page.",
        discussion: """
            Serves HTTP on --host/--port (loopback, port 8765 by default; the API is in \
            Protocols/gateway.openapi.json) and the common RPC methods (health.check, \
            rpc.discover) on <home>/run/gateway.sock for the stack supervisor. Asks agent-svc on \
            behalf of the signed-in person and redeems approve/reject links as --identity (the \
            stack's `gateway` identity, whose role may do that and read, and nothing else; the \
            gateway holds no operator or agent token and never sees a grant); decides at \
            approval-svc as the signed-in approver. Approvers sign in on the page with their \
            token from <home>/run/tokens/<name>.token; removing their identity ends their session.

            --host must be a loopback IP address (127.0.0.0/8 or ::1) unless --allow-remote \
            is given; names, even localhost, count as remote.

            Example:
              gateway --home .hitl --port 8765 &
              open http://127.0.0.1:8765/
            """)

    @OptionGroup var options: ServiceOptions

    @Option(help: "IP address to listen on. Anything but loopback (127.0.0.0/8, ::1) exposes the bank to the network: say so with --allow-remote.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; see --port-file). $HITL_GATEWAY_PORT, when set, wins (tests, a second stack).")
    var port = 8765

    @Option(help: ArgumentHelp("Write the port actually bound to this file once listening.", valueName: "path"))
    var portFile: String?

    @Option(help: ArgumentHelp(
        "The gateway's own identity (role gateway): it asks the agent for the signed-in person, reads balances and redeems links; nothing that moves money accepts it.",
        valueName: "name"))
    var identity = "gateway"

    @Option(help: ArgumentHelp("Event streams open at once.", valueName: "count"))
    var maxStreams = 64

    @Option(help: ArgumentHelp("The largest request body, in bytes.", valueName: "bytes"))
    var maxBodyBytes = 64 * 1024

    @Option(help: ArgumentHelp("Close a connection idle (or with a request head still incomplete) this long.", valueName: "ms"))
    var idleTimeoutMs = 30_000

    @Option(help: ArgumentHelp("Answer 408 and close when a request body does not arrive within this long.", valueName: "ms"))
    var bodyTimeoutMs = 15_000

    @Flag(help: "Allow --host to be an address other than loopback.")
    var allowRemote = false

    /// `$HITL_GATEWAY_PORT`: overrides --port, so a test stack or a second stack
    /// on one machine does not fight over 8765.
    static var environmentPort: Int? {
        ProcessInfo.processInfo.environment["HITL_GATEWAY_PORT"].flatMap { Int($0) }.flatMap { (0...65_535).contains($0) ? $0 : nil }
    }

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (1...4_096).contains(maxStreams) else { throw ValidationError("--max-streams must be between 1 and 4096") }
        guard (1_024...(16 << 20)).contains(maxBodyBytes) else { throw ValidationError("--max-body-bytes must be between 1024 and 16777216") }
        guard (100...3_600_000).contains(idleTimeoutMs) else { throw ValidationError("--idle-timeout-ms must be between 100 and 3600000") }
        guard (100...600_000).contains(bodyTimeoutMs) else { throw ValidationError("--body-timeout-ms must be between 100 and 600000") }
        guard GatewayConfiguration.isLoopbackAddress(host) || allowRemote else {
            throw ValidationError(
                "--host \(host) is not a loopback IP address (127.0.0.0/8 or ::1); add --allow-remote if the gateway really should be reachable from the network")
        }
    }

    func run() async throws {
        ServiceMain.bootstrapLogging(level: options.logLevel)
        let logger = Logger(label: "gateway")
        var configuration = GatewayConfiguration(directory: options.directory)
        configuration.host = host
        configuration.port = Self.environmentPort ?? port
        configuration.identity = identity
        configuration.maximumStreams = maxStreams
        configuration.maximumBodyBytes = maxBodyBytes
        configuration.idleTimeout = .milliseconds(idleTimeoutMs)
        configuration.bodyTimeout = .milliseconds(bodyTimeoutMs)
        let gateway: Gateway
        let identities: LiveIdentities
        do {
            try options.directory.prepare()
            identities = try LiveIdentities(directory: options.directory)
            gateway = try Gateway(configuration: configuration, identities: identities, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        let portFile = self.portFile
        let host = self.host
        let urlFile = options.directory.run.appendingPathComponent("gateway.url").path
        let application = gateway.application { bound in
            let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/"
            logger.info("gateway listening", metadata: ["url": "\(url)"])
            // `hitl stack up` and `status` print the page's address from here.
            try? IdentityProvisioner.writePrivate(Data("\(url)\n".utf8), to: urlFile)
            if let portFile { try? IdentityProvisioner.writePrivate(Data("\(bound)\n".utf8), to: portFile) }
        }
        do {
            try await ServiceMain.run(
                description: try Gateway.description(), options: options, services: [application], identities: identities) { _ in }
        } catch {
            await gateway.close()
            throw error
        }
        await gateway.close()
    }
}
