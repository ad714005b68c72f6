import Foundation

/// Where a service's PostgreSQL database is, parsed from a `postgres://` URL as libpq
/// writes them:
///
///     postgres://hitl:secret@db.internal:5432/hitl?sslmode=require
///     postgres://postgres@/hitl?host=/var/run/postgresql        (a Unix socket's folder)
///
/// `sslmode` is `disable` (the default for a socket), `require` (the default over TCP:
/// TLS, with the server's certificate verified against the system's roots or
/// `sslrootcert`). The password is never part of ``description``.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself (`<folder>/.s.PGSQL.<port>`).
        case unixSocket(path: String)
    }

    public enum TLSMode: String, Sendable, Equatable {
        case disable
        case require
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// A PEM file of the CAs that may sign the server's certificate (`sslrootcert`).
    public var rootCertificatePath: String?

    /// The environment variable a service reads when its compose entry names no database.
    public static let environmentVariable = "HITL_DATABASE_URL"

    /// Whether `text` names PostgreSQL (`postgres://` or `postgresql://`) rather than a file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// The PostgreSQL database a service was told to use: its `--database` when that
    /// is a URL, else `$HITL_DATABASE_URL` when `--database` is absent; nil for SQLite.
    /// - Throws: ``PostgresURLError`` naming where the bad URL came from.
    public static func chosen(
        option: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PostgresURLError) -> PostgresURL? {
        let (text, source): (String?, String) = option.map { (isURL($0) ? $0 : nil, "--database") }
            ?? (environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 }, "$\(environmentVariable)")
        guard let text else { return nil }
        do {
            return try PostgresURL(parsing: text)
        } catch {
            throw PostgresURLError(from: source, error)
        }
    }

    /// Parses `text`; the error says what is wrong and what a good URL looks like.
    public init(parsing text: String) throws(PostgresURLError) {
        guard let components = URLComponents(string: text) else {
            throw PostgresURLError(
                "\(Self.redacted(text)) cannot be read as a URL; in a user or password, write / # ? @ : and % percent-encoded (%2F %23 %3F %40 %3A %25)")
        }
        guard let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql" else {
            throw PostgresURLError("\(Self.redacted(text)) is not a postgres:// URL")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard ["host", "sslmode", "sslrootcert", "port"].contains(item.name) else {
                throw PostgresURLError("unknown parameter \(item.name); known: host, port, sslmode, sslrootcert")
            }
            query[item.name] = item.value ?? ""
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresURLError("\(Self.redacted(text)) names no user (postgres://USER@host/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresURLError("\(Self.redacted(text)) names no database (postgres://user@host/DATABASE)")
        }
        let portText = components.port.map(String.init) ?? query["port"] ?? "5432"
        guard let port = Int(portText), (1...65_535).contains(port) else {
            throw PostgresURLError("port \(portText) is not between 1 and 65535")
        }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? query["host"]
        guard let host, !host.isEmpty else {
            throw PostgresURLError("\(Self.redacted(text)) names no host (a name, an address, or ?host=/socket/folder)")
        }
        if host.hasPrefix("/") {
            endpoint = .unixSocket(path: (host as NSString).appendingPathComponent(".s.PGSQL.\(port)"))
        } else {
            endpoint = .tcp(host: host, port: port)
        }
        let defaultMode: TLSMode = host.hasPrefix("/") ? .disable : .require
        guard let mode = TLSMode(rawValue: query["sslmode"] ?? defaultMode.rawValue) else {
            throw PostgresURLError("sslmode \(query["sslmode"] ?? "") is not disable or require")
        }
        self.username = user
        self.password = components.password
        self.database = database
        self.tls = mode
        self.rootCertificatePath = query["sslrootcert"]
    }

    public var description: String {
        let credentials = username + (password == nil ? "" : ":***")
        switch endpoint {
        case .tcp(let host, let port):
            return "postgres://\(credentials)@\(host):\(port)/\(database)?sslmode=\(tls.rawValue)"
        case .unixSocket(let path):
            return "postgres://\(credentials)@/\(database)?host=\((path as NSString).deletingLastPathComponent)"
        }
    }

    /// `text` with any password replaced, for messages.
    static func redacted(_ text: String) -> String {
        if var components = URLComponents(string: text) {
            guard components.password != nil else { return text }
            components.password = "***"
            return components.string ?? "the database URL"
        }
        // Not a URL to Foundation (a password with / or # in it, say): hide whatever
        // stands between the scheme and the last @.
        guard let scheme = text.range(of: "://"), let at = text.range(of: "@", options: .backwards), scheme.upperBound <= at.lowerBound else {
            return text
        }
        return text[..<scheme.upperBound] + "***" + text[at.lowerBound...]
    }
}

/// A database URL that cannot be used, with what to write instead.
public struct PostgresURLError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ problem: String) { description = "database URL: \(problem)" }
    init(from source: String, _ error: PostgresURLError) { description = "\(source): \(error.description)" }
}
