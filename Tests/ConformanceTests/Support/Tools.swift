import Foundation
import RPC
import RPCTesting

/// Files of the repository the suite reads: scripts and the OpenRPC meta-schema.
enum Repository {
    /// The repository root: the folder above `Tests/` holding `Package.swift`.
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/", !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url
    }()

    /// `scripts/jsonschema-check`.
    static var schemaCheck: String { root.appendingPathComponent("scripts/jsonschema-check").path }

    /// The OpenRPC 1.3 meta-schema: the repository's own copy
    /// (`Protocols/meta/openrpc-1.3.schema.json`), else the shared one beside the
    /// repository (`../shared/openrpc/openrpc-1.3.schema.json`, as in CI's fresh clone).
    static func openRPCMetaSchema() throws -> String {
        let candidates = [
            root.appendingPathComponent("Protocols/meta/openrpc-1.3.schema.json").path,
            root.deletingLastPathComponent().appendingPathComponent("shared/openrpc/openrpc-1.3.schema.json").path,
        ]
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw ConformanceFailure("no OpenRPC meta-schema at any of \(candidates)")
        }
        return found
    }
}

/// The outcome of running a program to its end.
struct ProgramRun: Sendable {
    /// Its exit status (or the signal that ended it).
    let status: Int32
    /// stdout and stderr, interleaved.
    let output: String
}

/// Runs programs without blocking Swift's cooperative threads (on two cores,
/// a blocked thread stalls every other test).
enum Program {
    /// Runs `executable` with `arguments` and `input` on stdin, to its end.
    /// - Parameters:
    ///   - executable: an absolute path, or a name looked up in `PATH` via `/usr/bin/env`.
    ///   - arguments: its arguments.
    ///   - input: bytes for stdin.
    ///   - timeout: how long it may take; it is killed after that.
    static func run(_ executable: String, _ arguments: [String], input: Data = Data(), timeout: Duration = .seconds(30)) async throws -> ProgramRun {
        let process = Process()
        if executable.hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        let output = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = stdin
        try process.run()
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            kill(pid, SIGKILL)
        }
        defer { watchdog.cancel() }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                stdin.fileHandleForWriting.write(input)
                try? stdin.fileHandleForWriting.close()
                let bytes = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: ProgramRun(
                    status: process.terminationStatus, output: String(decoding: bytes, as: UTF8.self)))
            }
        }
    }
}

/// Validation with `scripts/jsonschema-check` (Python's jsonschema; there is no
/// JSON Schema validator for Swift here).
enum SchemaCheck {
    /// Validates `document` against the schema in `schemaPath`.
    /// - Returns: nil when valid, else the script's explanation.
    static func problems(_ document: JSONValue, schemaPath: String) async throws -> String? {
        // scripts/test exports HITL_PYTHON (a python3 that has jsonschema, from .venv if needed).
        let python = ProcessInfo.processInfo.environment["HITL_PYTHON"] ?? "python3"
        let run = try await Program.run(python, [Repository.schemaCheck, schemaPath], input: Data(document.jsonText().utf8))
        return run.status == 0 ? nil : "scripts/jsonschema-check exited \(run.status):\n\(run.output)"
    }

    /// Validates `document` against a schema given as a value (written to a temporary file).
    static func problems(_ document: JSONValue, schema: JSONValue) async throws -> String? {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString).json").path
        try Data(schema.jsonText().utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await problems(document, schemaPath: path)
    }
}

/// What an OpenRPC document says about one method.
struct DocumentedMethod: Sendable, CustomStringConvertible {
    /// Who may call a method, from its `x-access`.
    enum Access: Sendable, Equatable {
        case `public`
        case authenticated
        case roles(Set<String>)
    }

    /// `service.method`.
    let name: String
    /// Its `x-access`; nil when missing or malformed.
    let access: Access?
    /// Its `result.schema`.
    let resultSchema: JSONValue?

    var description: String { name }

    /// The methods of an OpenRPC document, in its order.
    static func all(in document: JSONValue) -> [DocumentedMethod] {
        guard case .array(let methods)? = document["methods"] else { return [] }
        return methods.compactMap { method in
            guard let name = method["name"]?.stringValue else { return nil }
            return DocumentedMethod(
                name: name, access: method["x-access"]?.stringValue.flatMap(Self.access), resultSchema: method["result"]?["schema"])
        }
    }

    /// Parses `public`, `authenticated` or `roles: a, b`.
    static func access(_ text: String) -> Access? {
        switch text {
        case "public": return .public
        case "authenticated": return .authenticated
        default:
            guard text.hasPrefix("roles:") else { return nil }
            let roles = text.dropFirst("roles:".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return roles.isEmpty || roles.contains("") ? nil : .roles(Set(roles))
        }
    }
}
