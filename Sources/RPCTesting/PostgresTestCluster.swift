import Foundation
import Synchronization

/// A throw-away PostgreSQL cluster for tests and benchmarks, and a fresh database
/// in it per caller.
///
/// `scripts/test` starts one before the tests and names its socket folder in
/// `HITL_TEST_POSTGRES` (and stops it afterwards); without it, the first test that
/// asks starts one of its own in a temporary folder and stops it when the process
/// exits. PostgreSQL refuses to run as root, so as root the cluster runs as the
/// `postgres` user. It listens on a Unix socket only (no TCP port to collide on),
/// trusts local connections, and skips fsync: it holds nothing worth keeping.
public final class PostgresTestCluster: Sendable {
    /// The socket folder of a cluster someone else started and will stop.
    public static let environmentVariable = "HITL_TEST_POSTGRES"
    /// Connections the cluster serves: 16 replicas × a pool of 8, and the tests' own.
    public static let maximumConnections = 300

    /// The folder that holds the server's socket.
    public let socketFolder: String
    /// The superuser the tests connect as.
    public let user: String
    private let bin: String
    private let counter = Atomic<Int>(0)
    /// For a cluster this process started: its data folder, who runs it, pg_ctl's `-o`.
    private let own: (data: String, owner: String?, options: String)?

    private init(socketFolder: String, user: String, bin: String, own: (data: String, owner: String?, options: String)? = nil) {
        self.socketFolder = socketFolder
        self.user = user
        self.bin = bin
        self.own = own
    }

    private static let started = Mutex<Result<PostgresTestCluster, PostgresTestClusterError>?>(nil)

    /// The cluster this process uses, started on first call.
    /// - Throws: ``PostgresTestClusterError`` saying what is missing (PostgreSQL not
    ///   installed: `scripts/test` installs it) or what the server printed.
    public static func shared() throws -> PostgresTestCluster {
        try started.withLock { state in
            if let state { return try state.get() }
            let result = Result { () throws(PostgresTestClusterError) -> PostgresTestCluster in try start() }
            state = result
            return try result.get()
        }
    }

    /// A new empty database, as a `postgres://` URL that connects over the socket.
    public func createDatabase(prefix: String = "t") throws -> String {
        try createDatabase(named: "\(prefix)_\(getpid())_\(counter.add(1, ordering: .relaxed).newValue)")
    }

    /// A new empty database called `name`, as a `postgres://` URL.
    public func createDatabase(named name: String) throws -> String {
        try Self.run(bin + "/createdb", ["-h", socketFolder, "-U", user, name], as: nil)
        return url(database: name)
    }

    /// `tps = 1234.5 (without initial connection time)` from pgbench's report.
    public static func tps(in output: String) -> Double? {
        for line in output.split(separator: "\n") where line.hasPrefix("tps = ") {
            return Double(line.dropFirst(6).prefix { $0 != " " })
        }
        return nil
    }

    /// The URL of `database` in this cluster.
    public func url(database: String) -> String {
        "postgres://\(user)@/\(database)?host=\(socketFolder)"
    }

    /// Runs `pgbench` (or another of the server's programs) against `database`; its output.
    public func runProgram(_ name: String, _ arguments: [String]) throws -> String {
        try Self.run(bin + "/" + name, ["-h", socketFolder, "-U", user] + arguments, as: nil)
    }

    // MARK: starting

    private static func start() throws(PostgresTestClusterError) -> PostgresTestCluster {
        if let folder = ProcessInfo.processInfo.environment[environmentVariable], !folder.isEmpty {
            return PostgresTestCluster(socketFolder: folder, user: "postgres", bin: try binFolder())
        }
        return try start(durable: false)
    }

    /// A cluster of this process's own, stopped when it exits. `durable` keeps
    /// PostgreSQL's defaults (fsync, synchronous commit: what a benchmark must compare
    /// with); otherwise it skips them, as tests may.
    public static func start(durable: Bool) throws(PostgresTestClusterError) -> PostgresTestCluster {
        let bin = try binFolder()
        let root = getuid() == 0
        let owner = root ? "postgres" : nil
        var template = Array((NSTemporaryDirectory() + "hitl-pg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw PostgresTestClusterError("cannot make a temporary folder for PostgreSQL") }
        let folder = String(cString: made)
        if root {
            // The folder is the server's: only the postgres user may own its data.
            guard let account = getpwnam("postgres") else {
                throw PostgresTestClusterError("there is no postgres user; install PostgreSQL (apt-get install -y postgresql) or run scripts/test")
            }
            chown(folder, account.pointee.pw_uid, account.pointee.pw_gid)
        }
        let data = folder + "/data"
        let user = root ? "postgres" : NSUserName()
        let options = "-k \(folder) -c listen_addresses='' -c unix_socket_permissions=0700 -c max_connections=\(maximumConnections)"
            + (durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        let cluster = PostgresTestCluster(socketFolder: folder, user: user, bin: bin, own: (data, owner, options))
        do {
            _ = try run(bin + "/initdb", ["-D", data, "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"], as: owner)
            try cluster.startAgain()
        } catch {
            let log = (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
            throw PostgresTestClusterError("\(error.description)\n\(log.suffix(2_000))")
        }
        let first = stopAtExit.withLock { clusters in
            clusters.append((bin + "/pg_ctl", data, owner, folder))
            return clusters.count == 1
        }
        if first {
            atexit {
                for (pgctl, data, owner, folder) in PostgresTestCluster.stopAtExit.withLock({ $0 }) {
                    _ = try? PostgresTestCluster.run(pgctl, ["-D", data, "-m", "immediate", "-w", "stop"], as: owner)
                    try? FileManager.default.removeItem(atPath: folder)
                }
            }
        }
        return cluster
    }

    /// The server's process (the postmaster), read from its pid file; nil when not running
    /// or not this process's cluster.
    public func serverPID() -> Int32? {
        guard let own, let text = try? String(contentsOfFile: own.data + "/postmaster.pid", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`: no
    /// checkpoint, clients cut off). Only for a cluster this process started.
    public func crash() throws(PostgresTestClusterError) {
        guard let own else { throw PostgresTestClusterError("only a cluster this process started can be stopped") }
        try Self.run(bin + "/pg_ctl", ["-D", own.data, "-m", "immediate", "-w", "stop"], as: own.owner)
    }

    /// Starts the server (again, after ``crash()``); it recovers from its write-ahead log.
    public func startAgain() throws(PostgresTestClusterError) {
        guard let own else { throw PostgresTestClusterError("only a cluster this process started can be started") }
        try Self.run(
            bin + "/pg_ctl", ["-D", own.data, "-l", socketFolder + "/server.log", "-w", "-t", "60", "start", "-o", own.options], as: own.owner)
    }

    /// What `atexit` stops: pg_ctl, the data folder, the user to run it as, the folder to delete.
    private static let stopAtExit = Mutex<[(String, String, String?, String)]>([])

    /// Debian's server programs (`/usr/lib/postgresql/<version>/bin`), newest version first.
    private static func binFolder() throws(PostgresTestClusterError) -> String {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(base)/\(version)/bin/initdb") {
            return "\(base)/\(version)/bin"
        }
        throw PostgresTestClusterError(
            "PostgreSQL's server is not installed (no \(base)/<version>/bin/initdb); apt-get install -y postgresql, or run scripts/test, which does")
    }

    /// Runs a program (as `user` through runuser when given) and returns its output.
    ///
    /// posix_spawn and waitpid, with the output in a file: `pg_ctl start` leaves a
    /// server behind, and Foundation's `Process` waited for ever on it here.
    @discardableResult
    private static func run(_ path: String, _ arguments: [String], as user: String?) throws(PostgresTestClusterError) -> String {
        let command = user.map { ["/usr/sbin/runuser", "-u", $0, "--", path] } ?? [path]
        let argv = command + arguments
        let outputPath = NSTemporaryDirectory() + "hitl-pg-output-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // No signal blocked or ignored: threads of this process block some (SIGALRM among
        // them), and a child inherits that; pgbench -T waits for SIGALRM, and the server
        // must hear pg_ctl's stop.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, cArguments, environ)
        guard spawned == 0 else { throw PostgresTestClusterError("cannot run \(argv[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED and WEXITSTATUS, which Swift does not import.
        guard status & 0x7F == 0, (status >> 8) & 0xFF == 0 else {
            throw PostgresTestClusterError("\((path as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }
}

/// Why the test cluster could not start or do what was asked.
public struct PostgresTestClusterError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The two places a service can keep its rows. Store and contract tests run on
/// both (`@Test(arguments: DatabaseBackend.allCases)`): the same calls must be
/// accepted and refused the same way.
public enum DatabaseBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// A service's arguments for this backend: none for SQLite (the file in its home),
    /// `--database` naming a fresh database of the test cluster for PostgreSQL.
    /// - Parameter prefix: the start of the database's name (the service's, say).
    public func serviceArguments(prefix: String) throws -> [String] {
        switch self {
        case .sqlite: []
        case .postgres: ["--database", try PostgresTestCluster.shared().createDatabase(prefix: prefix)]
        }
    }
}
