import Foundation
import RPC
import RPCTesting
import Testing

/// Golden output of the inbox commands (`hitl approvals`, `show`, `runs`, `run`) against
/// real approval-svc and state-svc: what an operator reads all day, held line by line.
/// Ids and times differ per run and are replaced by placeholders before comparing.
@Suite(.serialized)
struct InboxCommandsGoldenTests {
    /// Two transfers for approver1's run: one edited by approver2 (payee and amount), one
    /// rejected with a reason; the run's events as the agent writes them.
    private static func seeded(_ body: (HitlRunner, [String]) async throws -> Void) async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let policy = HitlRunner.repositoryRoot.appendingPathComponent("compose/policy.json").path
        let approval = try await ServiceProcess.launch("approval-svc", service: "approval", home: home, arguments: ["--policy", policy])
        let state = try await ServiceProcess.launch("state-svc", service: "state", home: home)
        defer { Task { await approval.terminate(); await state.terminate() } }
        let agent = try home.client("approval", as: "agent")
        var ids: [String] = []
        for (call, to, amount) in [("c1", "alice", "150.00"), ("c2", "bob", "250.00")] {
            let submitted = try await agent.call("approval.submit", [
                "run_id": "run_golden", "call_id": .string(call), "requested_by": "approver1",
                "action": ["kind": "transfer", "from": "checking", "to": .string(to), "amount": .string(amount), "currency": "USD"],
            ] as JSONValue, as: JSONValue.self)
            ids.append(try #require(submitted["approval_id"]?.stringValue))
        }
        await agent.close()
        let approver2 = try home.client("approval", as: "approver2")
        _ = try await approver2.call("approval.decide", [
            "approval_id": .string(ids[0]), "decision": "approve", "version": 1,
            "edited_action": ["kind": "transfer", "from": "checking", "to": "bob", "amount": "140.00", "currency": "USD"],
        ] as JSONValue, as: JSONValue.self)
        _ = try await approver2.call("approval.decide", [
            "approval_id": .string(ids[1]), "decision": "reject", "version": 1, "reason": "Bob is paid on Fridays",
        ] as JSONValue, as: JSONValue.self)
        await approver2.close()
        let states = try home.client("state", as: "agent")
        _ = try await states.call("state.create_run", [
            "run_id": "run_golden", "data": ["schema_version": 1, "requested_by": "approver1"],
            "events": [
                ["type": "run_started", "run_id": "run_golden", "mode": "tools", "requested_by": "approver1", "message": "Pay Alice $150 and Bob $250"],
                ["type": "tool_call", "run_id": "run_golden", "call_id": "c1", "name": "transfer_money", "arguments": #"{"to_account":"alice","amount":"150"}"#],
                ["type": "approval_required", "run_id": "run_golden", "approval_id": .string(ids[0]), "call_id": "c1",
                 "action": ["kind": "transfer", "from": "checking", "to": "alice", "amount": "150.00", "currency": "USD"]],
                ["type": "run_paused", "run_id": "run_golden", "pending": [.string(ids[0])]],
            ],
        ] as JSONValue, as: JSONValue.self)
        await states.close()
        try await body(HitlRunner(home: home), ids)
    }

    /// The output with ids and times as placeholders (`<ap1>`, `<time>`); in a table (a
    /// value followed by two spaces) padded to the width of what they replace, so the
    /// columns stay aligned. Trailing spaces trimmed.
    static func normalized(_ text: String, ids: [String]) -> String {
        var result = text
        func replace(_ pattern: String, regex: Bool, with placeholder: String) {
            var searchStart = result.startIndex
            while let range = result.range(of: pattern, options: regex ? .regularExpression : [], range: searchStart..<result.endIndex) {
                let width = result.distance(from: range.lowerBound, to: range.upperBound)
                let inTable = result[range.upperBound...].hasPrefix("  ")
                let replacement = inTable ? placeholder.padding(toLength: max(width, placeholder.count), withPad: " ", startingAt: 0) : placeholder
                result.replaceSubrange(range, with: replacement)
                searchStart = result.index(range.lowerBound, offsetBy: replacement.count)
            }
        }
        for (index, id) in ids.enumerated() { replace(id, regex: false, with: "<ap\(index + 1)>") }
        replace(#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#, regex: true, with: "<time>")
        return result.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0).replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression) }.joined(separator: "\n")
    }

    private static func expect(_ hitl: HitlRunner, _ arguments: [String], ids: [String], equals golden: String) async throws {
        let outcome = try await hitl.run(arguments)
        #expect(outcome.status == 0, "hitl \(arguments.joined(separator: " ")): \(outcome.transcript)")
        let text = normalized(outcome.stdout, ids: ids).trimmingCharacters(in: .newlines)
        #expect(text == golden, "hitl \(arguments.joined(separator: " ")) changed; update the golden text if intended:\n\(text)")
    }

    @Test func approvalsShowRunsAndRun() async throws {
        try await Self.seeded { hitl, ids in
            try await Self.expect(hitl, ["approvals"], ids: ids, equals: Self.pending)
            try await Self.expect(hitl, ["approvals", "--status", "all", "--order", "newest", "--limit", "1"], ids: ids, equals: Self.firstOfAll)
            try await Self.expect(hitl, ["approvals", "--status", "all", "--search", "nobody"], ids: ids, equals: "no approvals match")
            try await Self.expect(hitl, ["show", ids[0]], ids: ids, equals: Self.shown)
            try await Self.expect(hitl, ["runs"], ids: ids, equals: Self.runs)
            try await Self.expect(hitl, ["run", "run_golden"], ids: ids, equals: Self.run)
        }
    }

    @Test func badInputIsAUsageErrorOrAClearRefusal() async throws {
        try await Self.seeded { hitl, _ in
            let amount = try await hitl.run(["approvals", "--min", "lots"])
            #expect(amount.status == 2 && amount.stderr.contains("--min must be an amount"), "\(amount.transcript)")
            let order = try await hitl.run(["approvals", "--order", "random"])
            #expect(order.status == 2 && order.stderr.contains("--order must be one of"), "\(order.transcript)")
            let unknown = try await hitl.run(["show", "ap_nope"])
            #expect(unknown.status == 1 && unknown.stderr.contains("NOT_FOUND"), "\(unknown.transcript)")
            let run = try await hitl.run(["run", "run_nope"])
            #expect(run.status == 1 && run.stderr.contains("RUN_NOT_FOUND"), "\(run.transcript)")
        }
    }

    static let pending = """
        APPROVAL                 VERSION  STATUS   ACTION                           APPROVERS  REQUESTED BY  RULE                            EXPIRES
        <ap1>                    2        pending  transfer $140.00 checking → bob  1/2        approver1     transfer-over-100-one-approver  <time>
        """
    static let firstOfAll = """
        APPROVAL                 VERSION  STATUS    ACTION                           APPROVERS  REQUESTED BY  RULE                            EXPIRES
        <ap2>                    1        rejected  transfer $250.00 checking → bob  0/1        approver1     transfer-over-100-one-approver  <time>
        more match: hitl approvals --status all --order newest --limit 1 --cursor n2
        """
    static let shown = """
        Approval <ap1> · version 2 · pending
          action        transfer $140.00 checking → bob
          requested by  approver1 (run run_golden)
          rule          transfer-over-100-one-approver: $140.00 over $100.00; the edit changed the payee (alice → bob); edited by approver2
          votes         1 of 2 (approver2)
          expires       <time>

        Changes since it was asked for, by approver2 (version 2):
          amount: $150.00 → $140.00
          to: alice → bob

        History:
          WHEN                      WHO        STEP       VERSION  DETAIL
          <time>                    agent      submitted  1
          <time>                    approver2  edited     2
          <time>                    approver2  vote       2        approve

        Conversation (run run_golden):
          approver1 asked: "Pay Alice $150 and Bob $250"
          the model called transfer_money {"to_account":"alice","amount":"150"}
          needs a person: transfer $150.00 checking → alice (<ap1>)
        """
    static let runs = """
        RUN         STATUS   VERSION  UPDATED                   SESSION
        run_golden  running  1        <time>                    -
        """
    static let run = """
        Run run_golden · running · version 1
          started <time>, last saved <time>
          for approver1

          approver1 asked: "Pay Alice $150 and Bob $250"
          the model called transfer_money {"to_account":"alice","amount":"150"}
          needs a person: transfer $150.00 checking → alice (<ap1>)
        """
}
