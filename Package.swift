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
        .library(name: "RPC", targets: ["RPC"]),
        .library(name: "RPCTesting", targets: ["RPCTesting"]),
        .executable(name: "rpc-bench", targets: ["rpc-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.0"),
    ],
    targets: [
        // C system libraries, each behind a small shim header.
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),

        // The RPC core: JSON-RPC 2.0 over Unix sockets. Knows nothing of banking.
        .target(
            name: "RPC",
            dependencies: nio + [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.embedInCode("common.openrpc.json")],
            swiftSettings: strict),
        // What every service executable shares: options, logging, lifecycle.
        .target(
            name: "ServiceKit",
            dependencies: [
                "RPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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

        // The bundled client, operator tool and stack supervisor.
        .target(
            name: "HitlCLI",
            dependencies: [
                "RPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "hitl",
            dependencies: ["HitlCLI"],
            swiftSettings: strict),

        .testTarget(
            name: "RPCTests",
            dependencies: [
                "RPC",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "ConformanceTests",
            dependencies: ["RPC", "RPCTesting"],
            swiftSettings: strict),
        .testTarget(
            name: "HitlTests",
            dependencies: ["HitlCLI", "RPCTesting"],
            swiftSettings: strict),
    ]
)
