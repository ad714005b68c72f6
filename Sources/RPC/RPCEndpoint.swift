import Foundation
import NIOCore
import NIOSSL

/// Where a service listens and its clients connect: a Unix socket (the embedded
/// default) or a TCP port (past one machine, with TLS).
public enum RPCEndpoint: Sendable, Equatable, CustomStringConvertible {
    case unix(String)
    case tcp(host: String, port: Int)

    /// Reads `unix:/path`, a plain path, or `tcp://host:port` (`tcp://[::1]:9001` for IPv6).
    /// - Throws: ``RPCEndpointError`` naming the form it takes.
    public init(parsing text: String) throws {
        if text.hasPrefix("tcp://") {
            let rest = text.dropFirst("tcp://".count)
            let host: Substring
            let portText: Substring
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                host = rest[rest.index(after: rest.startIndex)..<close]
                let after = rest[rest.index(after: close)...]
                guard after.hasPrefix(":") else { throw RPCEndpointError(text) }
                portText = after.dropFirst()
            } else {
                guard let colon = rest.lastIndex(of: ":") else { throw RPCEndpointError(text) }
                host = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
            }
            guard !host.isEmpty, let port = Int(portText), (1...65_535).contains(port) else { throw RPCEndpointError(text) }
            self = .tcp(host: String(host), port: port)
        } else if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard path.hasPrefix("/") else { throw RPCEndpointError(text) }
            self = .unix(path)
        } else if text.hasPrefix("/") {
            self = .unix(text)
        } else {
            throw RPCEndpointError(text)
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        }
    }
}

/// An address that is neither `unix:/path` nor `tcp://host:port`.
public struct RPCEndpointError: Error, CustomStringConvertible {
    public let description: String
    init(_ text: String) {
        description = "'\(text.prefix(200))' is not an address: write unix:/path/to/service.sock or tcp://host:port (port 1 to 65535)"
    }
}

/// Mutual TLS for the RPC over TCP: every certificate is issued by the stack's own CA
/// (`hitl init` makes it, under `run/tls/`), servers require a client certificate from
/// it, and clients verify the server's name against its certificate. Tokens are still
/// required on top: TLS says which machine, the token which identity.
public struct RPCTLS: Sendable {
    /// The context handshakes are made with (thread-safe, shared by every connection).
    public let context: NIOSSLContext

    /// TLS from a context made elsewhere (tests: a client without a certificate).
    public init(context: NIOSSLContext) { self.context = context }

    /// The server side: presents `certificate`, requires a client certificate signed by `ca`.
    /// - Throws: NIOSSL's errors for unreadable files, with the path.
    public static func server(certificate: String, key: String, ca: String) throws -> RPCTLS {
        var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: try Self.chain(certificate), privateKey: .privateKey(try Self.key(key)),
            trustRoots: .certificates(try Self.certificates(ca)))
        configuration.minimumTLSVersion = .tlsv13
        return RPCTLS(context: try NIOSSLContext(configuration: configuration))
    }

    /// The client side: presents `certificate`, trusts only servers whose certificate `ca` signed.
    public static func client(certificate: String, key: String, ca: String) throws -> RPCTLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = try Self.chain(certificate)
        configuration.privateKey = .privateKey(try Self.key(key))
        configuration.trustRoots = .certificates(try Self.certificates(ca))
        configuration.certificateVerification = .fullVerification
        configuration.minimumTLSVersion = .tlsv13
        return RPCTLS(context: try NIOSSLContext(configuration: configuration))
    }

    private static func certificates(_ path: String) throws -> [NIOSSLCertificate] {
        do { return try NIOSSLCertificate.fromPEMFile(path) } catch { throw RPCTLSError("cannot read the certificate \(path): \(error)") }
    }

    private static func chain(_ path: String) throws -> [NIOSSLCertificateSource] {
        try certificates(path).map { .certificate($0) }
    }

    private static func key(_ path: String) throws -> NIOSSLPrivateKey {
        do { return try NIOSSLPrivateKey(file: path, format: .pem) } catch { throw RPCTLSError("cannot read the private key \(path): \(error)") }
    }

    /// The files of `name` (a service or `client`) in a run directory's `tls/` folder.
    public static func files(for name: String, in directory: RunDirectory) -> (certificate: String, key: String, ca: String) {
        let folder = directory.run.appendingPathComponent("tls")
        return (
            folder.appendingPathComponent("\(name).pem").path, folder.appendingPathComponent("\(name).key").path,
            folder.appendingPathComponent("ca.pem").path
        )
    }
}

/// TLS material that could not be read, with the file.
public struct RPCTLSError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
