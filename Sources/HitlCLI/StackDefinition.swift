import Foundation
import RPC

/// `compose/stack.json`: the single source of truth for the stack — which
/// services run, from which executables, in what order, with what environment,
/// how their health is checked and how they are restarted.
public struct StackDefinition: Codable, Sendable, Equatable {
    /// An identity the launcher provisions a token for.
    public struct IdentitySpec: Codable, Sendable, Equatable {
        /// e.g. `approver1`.
        public let name: String
        /// `operator`, `agent`, `approver`, `user` or `gateway`.
        public let role: String
        /// The ledger accounts this person owns: the agent acts for them only on these,
        /// and approval-svc refuses an action on any other (the first is their default).
        public let accounts: [String]?

        /// The identity to provision.
        public var identity: Identity { Identity(name: name, role: role, accounts: accounts ?? []) }
    }

    /// How a service's health is checked.
    public struct HealthSpec: Codable, Sendable, Equatable {
        /// How long start-up may take before the service counts as failed.
        public var startTimeoutMs: Int64 = 20_000
        /// How often the supervisor checks a running service.
        public var intervalMs: Int64 = 2_000

        enum CodingKeys: String, CodingKey {
            case startTimeoutMs = "start_timeout_ms"
            case intervalMs = "interval_ms"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            startTimeoutMs = try container.decodeIfPresent(Int64.self, forKey: .startTimeoutMs) ?? startTimeoutMs
            intervalMs = try container.decodeIfPresent(Int64.self, forKey: .intervalMs) ?? intervalMs
        }
    }

    /// How a crashed service is restarted.
    public struct RestartSpec: Codable, Sendable, Equatable {
        /// `always` (restart whenever it exits unexpectedly) or `never`.
        public var policy: String = "always"
        /// The first pause before a restart; doubles after each crash.
        public var backoffInitialMs: Int64 = 200
        /// The longest pause between restarts.
        public var backoffMaxMs: Int64 = 10_000

        enum CodingKeys: String, CodingKey {
            case policy
            case backoffInitialMs = "backoff_initial_ms"
            case backoffMaxMs = "backoff_max_ms"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            policy = try container.decodeIfPresent(String.self, forKey: .policy) ?? policy
            backoffInitialMs = try container.decodeIfPresent(Int64.self, forKey: .backoffInitialMs) ?? backoffInitialMs
            backoffMaxMs = try container.decodeIfPresent(Int64.self, forKey: .backoffMaxMs) ?? backoffMaxMs
        }
    }

    /// A call `hitl stack up` makes once every service is SERVING, through the
    /// service's public methods (never its database): the demo's accounts, say.
    /// Calls must be idempotent; `accept` lists reasons that mean "already done".
    public struct BootstrapCall: Codable, Sendable, Equatable {
        /// The service's short name.
        public let service: String
        /// The method.
        public let method: String
        /// Whose token to present.
        public var identity: String = "operator"
        /// The params object.
        public let params: JSONValue
        /// Error reasons that count as success (e.g. ACCOUNT_EXISTS).
        public var accept: [String] = []

        enum CodingKeys: String, CodingKey {
            case service, method, params, accept
            case identity = "as"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            service = try container.decode(String.self, forKey: .service)
            method = try container.decode(String.self, forKey: .method)
            identity = try container.decodeIfPresent(String.self, forKey: .identity) ?? "operator"
            params = try container.decodeIfPresent(JSONValue.self, forKey: .params) ?? .object([:])
            accept = try container.decodeIfPresent([String].self, forKey: .accept) ?? []
        }
    }

    /// One service of the stack.
    public struct ServiceSpec: Codable, Sendable, Equatable {
        /// The short name: socket `run/<name>.sock`, log `logs/<name>.log`.
        public let name: String
        /// The executable, found next to `hitl` (or in `$HITL_BIN`).
        public let executable: String
        /// Extra arguments after `--home <home>`.
        public var args: [String] = []
        /// Extra environment variables.
        public var env: [String: String] = [:]
        /// Services that must be SERVING before this one starts.
        public var dependsOn: [String] = []
        /// Health checking.
        public var health = HealthSpec()
        /// Restart policy.
        public var restart = RestartSpec()
        /// Environment variables that make this service unnecessary: when any
        /// is set (non-empty) the supervisor skips it, and services depending
        /// on it start without it (the model simulator is skipped when
        /// OPENAI_API_KEY points the agent at a real model).
        public var unlessEnv: [String] = []
        /// Where the service keeps its data when not in its SQLite file: a `postgres://`
        /// URL, passed as `--database` (state-svc, ledger-svc and approval-svc).
        public var database: String?

        /// A TCP address the service listens on as well as its Unix socket
        /// (`tcp://host:port`, mutual TLS with the home's `run/tls/`), passed as `--listen`:
        /// how the services of one host are reached from the others.
        public var listen: String?

        /// The executables that can keep their data in PostgreSQL.
        static let databaseCapable: Set = ["state-svc", "ledger-svc", "approval-svc"]
        /// The executables that serve the RPC and so can listen on TCP.
        static let listenCapable: Set = ["state-svc", "ledger-svc", "approval-svc", "agent-svc", "echo-svc"]

        /// What the supervisor passes after `--home <home>`: ``database`` as `--database`,
        /// ``listen`` as `--listen`, then ``args``.
        public var arguments: [String] {
            (database.map { ["--database", $0] } ?? []) + (listen.map { ["--listen", $0] } ?? []) + args
        }

        enum CodingKeys: String, CodingKey {
            case name, executable, args, env, health, restart, database, listen
            case dependsOn = "depends_on"
            case unlessEnv = "unless_env"
        }

        /// The first of ``unlessEnv`` set in `environment`, if any: why the service is skipped.
        /// - Parameter environment: the supervisor's environment.
        public func skipReason(in environment: [String: String]) -> String? {
            unlessEnv.first { !(environment[$0] ?? "").isEmpty }.map { "skipped because \($0) is set" }
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            executable = try container.decode(String.self, forKey: .executable)
            args = try container.decodeIfPresent([String].self, forKey: .args) ?? []
            env = try container.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
            dependsOn = try container.decodeIfPresent([String].self, forKey: .dependsOn) ?? []
            health = try container.decodeIfPresent(HealthSpec.self, forKey: .health) ?? HealthSpec()
            restart = try container.decodeIfPresent(RestartSpec.self, forKey: .restart) ?? RestartSpec()
            unlessEnv = try container.decodeIfPresent([String].self, forKey: .unlessEnv) ?? []
            database = try container.decodeIfPresent(String.self, forKey: .database)
            listen = try container.decodeIfPresent(String.self, forKey: .listen)
        }
    }

    /// Identities to provision at first start.
    public let identities: [IdentitySpec]
    /// Services, in start order (dependencies first).
    public let services: [ServiceSpec]
    /// Calls made once the stack is up (idempotent; e.g. demo accounts).
    public var bootstrap: [BootstrapCall] = []

    enum CodingKeys: String, CodingKey {
        case identities, services, bootstrap
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        identities = try container.decode([IdentitySpec].self, forKey: .identities)
        services = try container.decode([ServiceSpec].self, forKey: .services)
        bootstrap = try container.decodeIfPresent([BootstrapCall].self, forKey: .bootstrap) ?? []
    }

    /// Loads and validates a stack definition.
    /// - Parameter path: the file.
    /// - Throws: ``RunDirectoryError`` naming what is wrong.
    public static func load(path: String) throws -> StackDefinition {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunDirectoryError("cannot read the stack definition \(path); pass --compose or set HITL_COMPOSE")
        }
        let definition: StackDefinition
        do {
            definition = try JSONDecoder().decode(StackDefinition.self, from: data)
        } catch {
            throw RunDirectoryError("\(path) is not a valid stack definition: \(error)")
        }
        try definition.validate(path: path)
        return definition
    }

    func validate(path: String) throws {
        var seen = Set<String>()
        for service in services {
            guard service.name.range(of: "^[a-z][a-z0-9_]{0,30}$", options: .regularExpression) != nil else {
                throw RunDirectoryError("\(path): service name '\(service.name)' must be lowercase letters, digits or '_'")
            }
            for dependency in service.dependsOn where !seen.contains(dependency) {
                throw RunDirectoryError("\(path): \(service.name) depends on '\(dependency)', which must be listed before it")
            }
            guard seen.insert(service.name).inserted else {
                throw RunDirectoryError("\(path): service '\(service.name)' is listed twice")
            }
            guard ["always", "never"].contains(service.restart.policy) else {
                throw RunDirectoryError("\(path): \(service.name).restart.policy must be 'always' or 'never'")
            }
            if let database = service.database {
                guard ServiceSpec.databaseCapable.contains(service.executable) else {
                    throw RunDirectoryError(
                        "\(path): \(service.name).database: only \(ServiceSpec.databaseCapable.sorted().joined(separator: ", ")) can keep its data in PostgreSQL (the others keep none of their own); remove it")
                }
                guard database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") else {
                    throw RunDirectoryError("\(path): \(service.name).database must be a postgres:// URL (postgres://user@host/database)")
                }
            }
        }
        for service in services {
            guard let listen = service.listen else { continue }
            guard ServiceSpec.listenCapable.contains(service.executable) else {
                throw RunDirectoryError(
                    "\(path): \(service.name).listen: only \(ServiceSpec.listenCapable.sorted().joined(separator: ", ")) serve the RPC on TCP; remove it")
            }
            guard case .tcp? = try? RPCEndpoint(parsing: listen) else {
                throw RunDirectoryError("\(path): \(service.name).listen must be a TCP address, tcp://host:port (e.g. tcp://0.0.0.0:9003)")
            }
        }
        let names = Set(services.map(\.name))
        for call in bootstrap where !names.contains(call.service) {
            throw RunDirectoryError("\(path): bootstrap calls \(call.method) on '\(call.service)', which is not a service of the stack")
        }
        for call in bootstrap where !identities.contains(where: { $0.name == call.identity }) {
            throw RunDirectoryError("\(path): bootstrap calls \(call.method) as '\(call.identity)', which is not an identity of the stack")
        }
        // gateway: the HTTP gateway's own role (approval.redeem_link and reads, nothing that moves money).
        // user: a person who may ask the agent to act on their accounts, and decides nothing.
        let roles: Set = ["operator", "agent", "approver", "user", "gateway"]
        for identity in identities where !roles.contains(identity.role) {
            throw RunDirectoryError("\(path): identity \(identity.name) has role '\(identity.role)'; use operator, agent, approver, user or gateway")
        }
        for identity in identities {
            for account in identity.accounts ?? [] where account.range(of: "^[a-z][a-z0-9_-]{0,63}$", options: .regularExpression) == nil {
                throw RunDirectoryError("\(path): identity \(identity.name) lists account '\(account)'; account names are lowercase letters, digits, '_' or '-', starting with a letter")
            }
            if identity.accounts?.isEmpty == false, !Identity.personRoles.contains(identity.role) {
                throw RunDirectoryError("\(path): identity \(identity.name) has role \(identity.role) and lists accounts; only people (operator, approver, user) own accounts")
            }
        }
    }

    /// Finds the stack definition: `explicit`, else `$HITL_COMPOSE`, else
    /// `compose/stack.json` in the working directory or one of its parents.
    /// - Parameter explicit: a `--compose` option.
    public static func locate(_ explicit: String? = nil) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = ProcessInfo.processInfo.environment["HITL_COMPOSE"], !env.isEmpty { return env }
        var folder = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        while true {
            let candidate = folder.appendingPathComponent("compose/stack.json").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { return "compose/stack.json" }
            folder = parent
        }
    }
}
