import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// How a server listens.
public struct RPCServerConfiguration: Sendable {
    /// The Unix socket to listen on; its folder must be private to this user (0700).
    public var socketPath: String
    /// The longest request line accepted.
    public var maximumLineBytes: Int
    /// How long shutdown waits for calls in flight before cancelling them.
    public var drainTimeout: TimeAmount
    /// The event loops the server runs on.
    public var eventLoopGroup: any EventLoopGroup
    /// A TCP port to listen on as well (past one machine), nil: the Unix socket only.
    public var tcp: TCPListener?

    /// - Parameters:
    ///   - socketPath: the Unix socket path.
    ///   - maximumLineBytes: the line limit (default 1 MiB).
    ///   - drainTimeout: the graceful shutdown bound (default 10 s).
    ///   - eventLoopGroup: the event loops (default: one per core).
    public init(
        socketPath: String, maximumLineBytes: Int = RPCLimits.defaultMaximumLineBytes,
        drainTimeout: TimeAmount = RPCLimits.defaultDrainTimeout,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, tcp: TCPListener? = nil
    ) {
        self.tcp = tcp
        self.socketPath = socketPath
        self.maximumLineBytes = maximumLineBytes
        self.drainTimeout = drainTimeout
        self.eventLoopGroup = eventLoopGroup
    }
}

/// A TCP listener beside the Unix socket: mutual TLS unless plaintext is asked for by name.
public struct TCPListener: Sendable {
    /// The address to bind (an IP address or a name).
    public var host: String
    /// The port (0: one the system picks; ``RPCServer/tcpPort`` tells which).
    public var port: Int
    /// The server's certificate and the CA its clients' certificates must come from.
    public var tls: RPCTLS?
    /// Serve without TLS (tokens then travel in the clear): refused unless this is set.
    public var allowPlaintext: Bool

    /// - Parameters: where, and with what TLS (nil only with `allowPlaintext`).
    public init(host: String, port: Int, tls: RPCTLS?, allowPlaintext: Bool = false) {
        self.host = host
        self.port = port
        self.tls = tls
        self.allowPlaintext = allowPlaintext
    }
}

/// A JSON-RPC 2.0 server on a Unix domain socket (and a TCP port, with TLS).
///
/// Run it in a `ServiceGroup`: `run()` binds, serves until graceful shutdown,
/// then stops accepting, reports NOT_SERVING, lets calls in flight finish
/// (bounded by `drainTimeout`), and closes.
public actor RPCServer: Service {
    private enum State {
        case idle
        case serving(any Channel)
        case stopped
    }

    /// The TCP listener, when there is one and it is bound.
    private var tcpChannel: (any Channel)?

    /// The TCP port bound (nil without a TCP listener, or before `start()`).
    public var tcpPort: Int? { tcpChannel?.localAddress?.port }

    /// The service this server serves.
    public nonisolated let description: RPCServiceDescription
    private let configuration: RPCServerConfiguration
    private let core: ServerCore
    private var state: State = .idle

    /// Creates a server; nothing is bound until ``start()`` or ``run()``.
    /// - Parameters:
    ///   - description: name, version and contract.
    ///   - configuration: where and how to listen.
    ///   - identities: the token registry (nil: only `.public` methods can be called).
    ///   - logger: the service's logger.
    ///   - register: adds the service's own methods.
    public init(
        description: RPCServiceDescription, configuration: RPCServerConfiguration, identities: IdentityRegistry?,
        logger: Logger, register: @Sendable (inout RPCRouterBuilder) -> Void
    ) {
        self.init(
            description: description, configuration: configuration, liveIdentities: identities.map(LiveIdentities.init),
            logger: logger, register: register)
    }

    /// Creates a server whose identities may change while it serves (see ``IdentityWatcher``).
    /// - Parameters:
    ///   - description: name, version and contract.
    ///   - configuration: where and how to listen.
    ///   - liveIdentities: the token registry as it stands at each call (nil: only `.public` methods).
    ///   - logger: the service's logger.
    ///   - register: adds the service's own methods.
    public init(
        description: RPCServiceDescription, configuration: RPCServerConfiguration, liveIdentities: LiveIdentities?,
        logger: Logger, register: @Sendable (inout RPCRouterBuilder) -> Void
    ) {
        let state = ServerState()
        var builder = RPCRouterBuilder(service: description.name)
        BuiltinMethods.install(into: &builder, description: description, state: state)
        register(&builder)
        let router = builder.build()
        self.description = description
        self.configuration = configuration
        self.core = ServerCore(router: router, identities: liveIdentities, state: state, logger: logger)
    }

    /// Methods served but not documented, and documented but not served. Both must be empty.
    public nonisolated var contractMismatch: (undocumented: [String], unserved: [String]) {
        let served = Set(core.router.methodNames)
        let documented = Set(description.documentedMethods)
        return (served.subtracting(documented).sorted(), documented.subtracting(served).sorted())
    }

    /// Binds the socket and starts serving.
    /// - Throws: ``ServerStartupError`` with what to do (path too long, folder not
    ///   private, another process serving there).
    public func start() async throws {
        guard case .idle = state else { return }
        let mismatch = contractMismatch
        guard mismatch.undocumented.isEmpty, mismatch.unserved.isEmpty else {
            throw ServerStartupError(
                "the contract and the code disagree: served but undocumented \(mismatch.undocumented), documented but unserved \(mismatch.unserved); update Protocols/\(description.name).openrpc.json")
        }
        let path = configuration.socketPath
        if let tcp = configuration.tcp, tcp.tls == nil, !tcp.allowPlaintext {
            throw ServerStartupError(
                "listening on tcp://\(tcp.host):\(tcp.port) without TLS would send tokens in the clear: give the service its certificate "
                    + "(`hitl init` makes them under run/tls/) or pass --allow-plaintext-tcp to accept that risk")
        }
        try SocketPath.prepare(path)
        let channel = try await bootstrap(tls: nil).bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
        guard chmod(path, 0o600) == 0 else {
            try? await channel.close()
            throw ServerStartupError("cannot set mode 0600 on \(path): \(String(cString: strerror(errno)))")
        }
        if let tcp = configuration.tcp {
            do {
                tcpChannel = try await bootstrap(tls: tcp.tls).bind(host: tcp.host, port: tcp.port).get()
            } catch {
                try? await channel.close()
                unlink(path)
                throw ServerStartupError("cannot listen on tcp://\(tcp.host):\(tcp.port): \(error); is another process using the port?")
            }
            core.logger.info("serving over TCP", metadata: [
                "address": "\(tcp.host):\(tcpPort ?? tcp.port)", "tls": "\(tcp.tls == nil ? "none (plaintext allowed by flag)" : "mutual")",
            ])
        }
        state = .serving(channel)
        core.state.set(.serving)
        core.logger.info("serving", metadata: [
            "socket": "\(path)", "version": "\(description.version)", "pid": "\(getpid())",
            "methods": "\(core.router.methodNames.count)",
        ])
    }

    /// Accepted connections: TLS first when given, then line framing and the RPC handler.
    private nonisolated func bootstrap(tls: RPCTLS?) -> ServerBootstrap {
        let core = self.core
        let limit = configuration.maximumLineBytes
        return ServerBootstrap(group: configuration.eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(
                .writeBufferWaterMark, value: .init(low: RPCLimits.outputLowWatermark, high: RPCLimits.outputHighWatermark))
            .childChannelInitializer { channel in
                core.state.opened(channel)
                channel.closeFuture.whenComplete { _ in core.state.closed(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context)) }
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: limit), maximumBufferSize: limit + 65_536))
                    try channel.pipeline.syncOperations.addHandler(RPCServerHandler(core: core))
                }
            }
    }

    /// Serves until graceful shutdown (SIGTERM/SIGINT through `ServiceGroup`), then drains.
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops accepting, reports NOT_SERVING, waits for calls in flight (bounded), closes.
    public func shutdown() async {
        guard case .serving(let listener) = state else { return }
        state = .stopped
        core.state.set(.notServing, draining: true)
        try? await listener.close()
        try? await tcpChannel?.close()
        unlink(configuration.socketPath)
        let deadline = NIODeadline.now() + configuration.drainTimeout
        while core.state.inFlight > 0, NIODeadline.now() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let abandoned = core.state.inFlight
        for channel in core.state.openChannels { try? await channel.close() }
        if abandoned > 0 {
            core.logger.warning("stopped with calls still in flight; they were cancelled", metadata: ["calls": "\(abandoned)"])
        }
        core.logger.info("stopped")
    }
}

/// Why a server could not start, with what to do about it.
public struct ServerStartupError: Error, CustomStringConvertible {
    public let description: String
    /// - Parameter description: what went wrong and what to do.
    public init(_ description: String) { self.description = description }
}

/// Checks for socket paths: length, a private folder, stale versus live sockets.
public enum SocketPath {
    /// Makes `path` ready to bind: refuses long paths and shared folders, removes
    /// a stale socket left by a crash, refuses to steal a live one.
    /// - Parameter path: the socket path.
    /// - Throws: ``ServerStartupError``.
    public static func prepare(_ path: String) throws {
        let bytes = path.utf8.count
        guard bytes <= RPCLimits.maximumSocketPathBytes else {
            throw ServerStartupError(
                "the socket path \(path) is \(bytes) bytes; Unix sockets allow at most \(RPCLimits.maximumSocketPathBytes). Use a shorter HITL_HOME.")
        }
        let folder = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: folder) {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var info = stat()
        guard stat(folder, &info) == 0 else {
            throw ServerStartupError("cannot inspect \(folder): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & 0o077 == 0, info.st_uid == getuid() else {
            throw ServerStartupError(
                "the socket folder \(folder) must belong to this user and be private (mode 0700); it is \(String(info.st_mode & 0o777, radix: 8)). Run `chmod 700 \(folder)`.")
        }
        var existing = stat()
        guard lstat(path, &existing) == 0 else { return }
        guard existing.st_mode & S_IFMT == S_IFSOCK else {
            throw ServerStartupError("\(path) exists and is not a socket; move it away (nothing was deleted)")
        }
        if isLive(path) {
            throw ServerStartupError(
                "another process is already serving on \(path); stop it first (scripts/stack down) or use another HITL_HOME")
        }
        unlink(path)  // stale: left behind by a process that crashed
    }

    /// True when something accepts connections on the socket.
    /// - Parameter path: the socket path.
    public static func isLive(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}
