// swift-tools-version: 6.2
import PackageDescription

/// Every target is built in Swift 6 mode with warnings as errors: a warning is a
/// defect here, including NIO's preconcurrency Sendable warnings.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
]

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOFoundationCompat", package: "swift-nio"),
]

let package = Package(
    name: "hitl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hitl", targets: ["hitl"]),
        .executable(name: "echo-svc", targets: ["echo-svc"]),
        .executable(name: "rpc-bench", targets: ["rpc-bench"]),
        .executable(name: "rpc-count", targets: ["rpc-count"]),
        .executable(name: "model-sim", targets: ["model-sim"]),
        .executable(name: "approval-svc", targets: ["approval-svc"]),
        .executable(name: "ledger-svc", targets: ["ledger-svc"]),
        .executable(name: "ledger-bench", targets: ["ledger-bench"]),
        .executable(name: "state-svc", targets: ["state-svc"]),
        .executable(name: "state-bench", targets: ["state-bench"]),
        .executable(name: "agent-svc", targets: ["agent-svc"]),
        .executable(name: "agent-bench", targets: ["agent-bench"]),
        .executable(name: "chaos", targets: ["chaos"]),
        .executable(name: "gateway", targets: ["gateway"]),
        .executable(name: "rpc-fuzz", targets: ["rpc-fuzz"]),
        .library(name: "RPC", targets: ["RPC"]),
        .library(name: "RPCTesting", targets: ["RPCTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // TLS for the RPC over TCP (past one machine) and the stack's own CA.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.0"),
        // PostgreSQL, the second backend of the stateful services (past one machine).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
    ],
    targets: [
        // C system libraries, each behind a small shim header.
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),

        // What travels on the wire, with no NIO and no SQLite: JSON values and their
        // fast coders, RPC errors and statuses. The contracts layer builds on it alone.
        .target(name: "Wire", swiftSettings: strict),
        // The RPC core: JSON-RPC 2.0 over Unix sockets. Knows nothing of banking.
        .target(
            name: "RPC",
            dependencies: nio + ["Wire", .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.embedInCode("common.openrpc.json")],
            swiftSettings: strict),
        // What every service executable shares: options, logging, lifecycle.
        .target(
            name: "ServiceKit",
            dependencies: [
                "RPC", "Banking", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // Storage every service shares: SQLite with WAL, group commit, migrations.
        .target(
            name: "SQLiteKit",
            dependencies: [
                "CSQLite", "RPC",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // PostgreSQL for the stateful services: database URLs, a bounded pool,
        // versioned migrations under an advisory lock, transactions retried on
        // serialization failures, LISTEN for changes made by other replicas.
        .target(
            name: "PostgresSupport",
            dependencies: [
                "RPC", "SQLiteKit",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // Only for ConnectionPoolError, which PostgresClient throws as it is.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The banking vocabulary shared by ledger, approval and agent: exact
        // amounts, actions, and the signed grant format (Protocols/grant.schema.json).
        .target(
            name: "Banking",
            dependencies: ["Wire", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),

        // The contracts layer: each service's wire types (params, results, statuses,
        // events) and the protocol its consumers call it through (StateAPI, LedgerAPI,
        // ApprovalAPI). No NIO, no SQLite: producers register handlers with these
        // types, consumers import them, executables inject the clients.
        .target(
            name: "Contracts",
            dependencies: ["Wire", "Banking"],
            swiftSettings: strict),
        // The contracts served over JSON-RPC: a typed client per service.
        .target(
            name: "ServiceClients",
            dependencies: ["Contracts", "RPC"],
            swiftSettings: strict),

        // libcurl for everything that leaves the machine: LLM calls, webhooks, SMTP.
        .target(
            name: "CurlKit",
            dependencies: ["CCurl", .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strict),
        // The agent's model access: OpenAI-compatible HTTP (Responses and Chat
        // Completions, streaming or not) through libcurl.
        .target(
            name: "LLM",
            dependencies: [
                "CurlKit", "RPC",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // The offline model: a deterministic, rule-based, OpenAI-compatible stand-in.
        .target(
            name: "ModelSimulator",
            dependencies: ["LLM", "RPC"],
            resources: [.embedInCode("model.openrpc.json")],
            swiftSettings: strict),
        .executableTarget(
            name: "model-sim",
            dependencies: [
                "ModelSimulator", "LLM", "RPC", "ServiceKit", "CurlKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // Test support: temporary homes, launching real executables, clients.
        .target(
            name: "RPCTesting",
            dependencies: ["RPC"] + nio,
            swiftSettings: strict),

        // A small service built on the core, for the conformance suite.
        .target(
            name: "EchoService",
            dependencies: ["RPC"],
            resources: [.embedInCode("echo.openrpc.json")],
            swiftSettings: strict),
        .executableTarget(
            name: "echo-svc",
            dependencies: ["EchoService", "ServiceKit"],
            swiftSettings: strict),

        // posix_spawn's GNU extensions (new session, close inherited descriptors).
        .target(name: "CSpawn"),
        // The approval service: the policy, the queue, grants, expiry, audit, notifications.
        .target(
            name: "Approval",
            dependencies: [
                "RPC", "Contracts", "Banking", "SQLiteKit", "PostgresSupport", "CurlKit",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.embedInCode("approval.openrpc.json")],
            swiftSettings: strict),
        .executableTarget(
            name: "approval-svc",
            dependencies: [
                "Approval", "Banking", "RPC", "SQLiteKit", "PostgresSupport", "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // The ledger: exact double-entry books that move no money without a grant.
        .target(
            name: "Ledger",
            dependencies: [
                "RPC", "Contracts", "SQLiteKit", "PostgresSupport", "Banking",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("ledger.openrpc.json")],
            swiftSettings: strict),
        .executableTarget(
            name: "ledger-svc",
            dependencies: [
                "Ledger", "ServiceKit", "Banking", "SQLiteKit", "PostgresSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Durable transfers per second against the real ledger-svc, beside a naive baseline.
        .executableTarget(
            name: "ledger-bench",
            dependencies: [
                "Ledger", "Banking", "RPC", "RPCTesting", "SQLiteKit", "ServiceKit", "PostgresSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),

        // Versioned agent runs, sessions and consumer cursors; resumable exactly once.
        .target(
            name: "StateStore",
            dependencies: [
                "RPC", "Contracts", "SQLiteKit", "PostgresSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("state.openrpc.json")],
            swiftSettings: strict),
        .executableTarget(
            name: "state-svc",
            dependencies: [
                "StateStore", "ServiceKit", "SQLiteKit", "PostgresSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // Save/load round trips per second against state-svc, beside plain SQLite.
        .executableTarget(
            name: "state-bench",
            dependencies: [
                "StateStore", "SQLiteKit", "RPC", "RPCTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // The agent: the LLM loop with deferred execution and stateless, exactly-once resume.
        .target(
            name: "Agent",
            dependencies: [
                "RPC", "Contracts", "ServiceClients", "Banking", "LLM",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("agent.openrpc.json")],
            swiftSettings: strict),
        .executableTarget(
            name: "agent-svc",
            dependencies: [
                "Agent", "LLM", "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),

        // The crash test of the whole stack (scripts/chaos).
        .executableTarget(
            name: "chaos",
            dependencies: [
                "HitlCLI", "RPC", "Banking", "Contracts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        // Full approval cycles per second through the real stack.
        .executableTarget(
            name: "agent-bench",
            dependencies: [
                "Agent", "Contracts", "RPC", "RPCTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        // The RPC core's benchmark, with its C baseline (a blocking line ping-pong and
        // the blocking client that drives every server the same way).
        .target(
            name: "CPingPong",
            cSettings: [.enableWarning("all"), .treatAllWarnings(as: .error)]),
        .executableTarget(
            name: "rpc-bench",
            dependencies: [
                "RPC", "RPCTesting", "EchoService", "ServiceKit", "CPingPong",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // What rpc-bench runs under callgrind to count instructions per round trip.
        .executableTarget(
            name: "rpc-count",
            dependencies: ["RPC", "RPCTesting", "EchoService", "ServiceKit", "CPingPong"] + nio,
            swiftSettings: strict),

        // The HTTP front door: SSE chat, decisions, approval links and the web page,
        // speaking to the services only through their RPC clients.
        .target(
            name: "Gateway",
            dependencies: [
                "RPC", "Contracts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [
                .embedInCode("gateway.openrpc.json"),
                .embedInCode("Web/index.html"),
                .embedInCode("Web/app.css"),
                .embedInCode("Web/app.js"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "gateway",
            dependencies: [
                "Gateway", "RPC", "ServiceKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // The fuzzer: generated lines against every service's socket, checked
        // against JSON-RPC's rules (a library for the test suite, a program for users).
        .target(
            name: "RPCFuzz",
            dependencies: ["RPC", "RPCTesting"] + nio,
            swiftSettings: strict),
        .executableTarget(
            name: "rpc-fuzz",
            dependencies: ["RPCFuzz", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),

        // The bundled client, operator tool and stack supervisor.
        .target(
            name: "HitlCLI",
            dependencies: [
                "RPC", "Contracts", "ServiceKit",
                "CSpawn",
                "Agent",
                "Banking",
                "LLM",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("stack.openrpc.json")],
            swiftSettings: strict),
        .executableTarget(
            name: "hitl",
            dependencies: ["HitlCLI"],
            swiftSettings: strict),

        .testTarget(
            name: "RPCTests",
            dependencies: [
                "RPC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SQLiteKitTests",
            dependencies: ["SQLiteKit"],
            swiftSettings: strict),
        // The contracts held to Protocols/*.openrpc.json both ways.
        .testTarget(
            name: "ContractsTests",
            dependencies: ["Contracts", "Banking", "Wire"],
            swiftSettings: strict),
        .testTarget(
            name: "BankingTests",
            dependencies: ["Banking", "Wire", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .testTarget(
            name: "LLMTests",
            dependencies: ["LLM", "CurlKit", "ModelSimulator", "RPCTesting"],
            swiftSettings: strict),
        .testTarget(
            name: "ApprovalTests",
            dependencies: [
                "Approval", "Banking", "RPC", "RPCTesting", "SQLiteKit", "ServiceKit", "PostgresSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "LedgerTests",
            dependencies: [
                "Ledger", "Banking", "RPC", "RPCTesting", "SQLiteKit", "ServiceKit", "PostgresSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "StateTests",
            dependencies: ["StateStore", "RPC", "RPCTesting", "SQLiteKit", "PostgresSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ConformanceTests",
            dependencies: [
                "RPC", "RPCTesting", "Banking", "ServiceKit", "EchoService", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "Banking", "Contracts", "CurlKit", "LLM", "Ledger", "ModelSimulator", "RPC", "RPCTesting", "ServiceKit", "StateStore",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // A short rpc-fuzz run against every service, and the stack's security checks.
        .testTarget(
            name: "FuzzTests",
            dependencies: ["RPCFuzz", "RPC", "RPCTesting"],
            swiftSettings: strict),
        .testTarget(
            name: "SecurityTests",
            dependencies: ["RPC", "RPCTesting", "RPCFuzz", "Banking", "ServiceKit", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "RPC", "RPCTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "HitlTests",
            dependencies: ["HitlCLI", "RPCTesting"],
            swiftSettings: strict),
    ]
)
