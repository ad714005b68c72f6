import Foundation
import RPC
import RPCTesting
import Testing

/// `hitl model eval` judges each of the seed's requests by the ledger: right when the
/// agent did exactly what was asked, wrong (and why) when it did not.
@Suite(.serialized)
struct ModelEvalTests {
    /// Runs `hitl model eval` against the stack; returns its JSON lines and exit code.
    func evaluate(_ stack: AgentStack, mode: String) throws -> (lines: [JSONValue], status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("hitl"))
        process.arguments = ["model", "eval", "--home", stack.home.directory.home.path, "--mode", mode, "--json", "--timeout", "60"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
        return (lines, process.terminationStatus)
    }

    @Test(arguments: ["tools", "structured"])
    func theSimulatorGetsAllThreeRight(mode: String) async throws {
        // The follower resumes what eval approves, as in the stack a user starts.
        try await AgentStack.with(follow: true) { stack in
            let (lines, status) = try evaluate(stack, mode: mode)
            #expect(status == 0)
            #expect(lines.map { $0["request"]?.stringValue } == [
                "Check my balance and transfer $50 to Alice", "Deposit $200 into my account", "Transfer $500 to Bob for rent",
            ])
            #expect(lines.allSatisfy { $0["correct"] == .bool(true) && $0["problems"] == [] }, "\(lines)")
            #expect(try await stack.books("checking") == "650.00/650.00")
        }
    }

    /// A model that calls a tool that does not exist for every transfer: the runs
    /// complete, but the ledger shows the transfers never happened, and eval says so.
    @Test func wrongRunsAreWrongByTheLedgerNotTheStatus() async throws {
        try await AgentStack.with(follow: true, simulatorArguments: ["--fault", "unknown-tool"]) { stack in
            let (lines, status) = try evaluate(stack, mode: "tools")
            #expect(status == 1)
            #expect(lines.map { $0["status"]?.stringValue } == ["completed", "completed", "completed"])
            #expect(lines.map { $0["correct"] } == [.bool(false), .bool(true), .bool(false)])
            let problems = lines.map { ($0["problems"]?.arrayValues ?? []).compactMap(\.stringValue).joined(separator: "; ") }
            #expect(problems[0] == "the ledger moved [] instead of [alice +50.00 from checking, checking -50.00 to alice]")
            #expect(problems[2] == "it never waited for a human; the ledger moved [] instead of [bob +500.00 from checking, checking -500.00 to bob]")
        }
    }
}
