import Banking
import Contracts
import Foundation
import RPC

/// A small, fast, seedable generator (SplitMix64): the same seed gives the
/// same choices, whatever the machine.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What a human does with an action that waits for approval.
enum HumanDecision: String, CaseIterable, Sendable {
    case approve, reject, expire, edit
}

/// One approval cycle, chosen from the seed and the cycle's number only.
struct CyclePlan: Sendable {
    let index: Int
    let mode: String
    var message: String
    let decision: HumanDecision
    /// Who asks: the operator (checking) or the saver (savings, small transfers only).
    var requester = "operator"

    /// The saver's amounts: around the per-transfer threshold, below the budgets' totals.
    static let smallAmounts = ["5", "25", "49.99", "75", "99.99", "100", "100.01"]

    /// Amounts on both sides of every threshold of compose/policy.json ($100, $10,000).
    static let amounts = ["25", "99.99", "100", "100.01", "150", "1,250.50", "9,999.99", "10,000", "10,000.01", "12,500"]

    init(index: Int, mode: String, message: String, decision: HumanDecision) {
        self.index = index
        self.mode = mode
        self.message = message
        self.decision = decision
    }

    init(seed: UInt64, index: Int) {
        var random = SeededGenerator(seed: seed ^ (UInt64(index) &* 0x2545_F491_4F6C_DD1D))
        self.index = index
        mode = Bool.random(using: &random) ? "tools" : "structured"
        let payee = Bool.random(using: &random) ? "Alice" : "Bob"
        let amount = Self.amounts.randomElement(using: &random)!
        message = Int.random(in: 0..<10, using: &random) == 0
            ? "Deposit $\(amount) into my account"
            : "Transfer $\(amount) to \(payee)"
        decision = HumanDecision.allCases.randomElement(using: &random)!
        // A third of the cycles are the saver's small transfers, which the policy may run by itself.
        if Int.random(in: 0..<3, using: &random) == 0 {
            requester = ChaosStack.saver.name
            message = "Transfer $\(Self.smallAmounts.randomElement(using: &random)!) to \(payee)"
        }
    }
}

/// How cycles ended, for the summary.
actor Tally {
    private(set) var counts: [String: Int] = [:]
    private(set) var finished = 0

    func record(_ outcome: String) {
        counts[outcome, default: 0] += 1
        finished += 1
    }
}

/// Runs cycles against the stack the way users and approvers would, while
/// services crash: an interrupted call is reported, never retried blindly
/// (a chat is not idempotent), and the invariants are checked at the end.
struct Workload: Sendable {
    let stack: ChaosStack
    let seed: UInt64
    let tally: Tally

    /// The seed's cycles 0..<`cycles`, `concurrency` at a time.
    func run(cycles: Int, concurrency: Int) async {
        await withTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<min(concurrency, cycles) {
                let plan = CyclePlan(seed: seed, index: next)
                next += 1
                group.addTask { await run(plan) }
            }
            for await _ in group where next < cycles {
                let plan = CyclePlan(seed: seed, index: next)
                next += 1
                group.addTask { await run(plan) }
            }
        }
    }

    /// One cycle: ask the agent; if it waits for a human, decide as the plan says.
    func run(_ plan: CyclePlan) async {
        let outcome: String
        do {
            outcome = try await cycle(plan)
        } catch let error as RPCError {
            outcome = "interrupted (\(error.status.name))"
        } catch {
            outcome = "interrupted (\(type(of: error)))"
        }
        await tally.record(outcome)
    }

    private func cycle(_ plan: CyclePlan) async throws -> String {
        // A person asks, as at the CLI: the agent acts for them, on their own account.
        // With several routes (hosts), a run is started through one and decided through the next.
        let agent = try stack.client("agent", as: plan.requester, route: max(plan.index, 0))
        defer { Task { await agent.close() } }
        let params: JSONValue = ["message": .string(plan.message), "mode": .string(plan.mode)]
        let run = try await agent.call("agent.chat", params, as: RunResult.self, options: .init(timeout: .seconds(60), retryWindow: .seconds(20)))
        guard run.status == "awaiting_approval" else { return "chat \(run.status)" }
        for pending in run.pending {
            try await decide(pending, plan.decision, route: max(plan.index, 0) + 1)
        }
        return "paused, then \(plan.decision.rawValue)"
    }

    /// Records the plan's decision with as many approvers as the approval needs.
    private func decide(_ pending: PendingView, _ decision: HumanDecision, route: Int) async throws {
        guard decision != .expire else { return }
        for approver in ["approver1", "approver2"] {
            let client = try stack.client("approval", as: approver, route: route)
            defer { Task { await client.close() } }
            let options = CallOptions(timeout: .seconds(30), retryWindow: .seconds(20))
            let current = try await client.call(
                "approval.get", ["approval_id": .string(pending.approvalID)] as JSONValue, as: JSONValue.self,
                options: CallOptions(timeout: .seconds(30), idempotent: true, retryWindow: .seconds(20)))
            guard current["status"]?.stringValue == "pending" else { return }
            var params: [String: JSONValue] = ["approval_id": .string(pending.approvalID), "version": current["version"] ?? 1]
            switch decision {
            case .approve:
                params["decision"] = "approve"
            case .reject:
                params["decision"] = "reject"
                params["reason"] = "chaos: rejected"
            case .edit where approver == "approver1":
                // Approve half the amount instead (whole cents), as an approver who edits.
                let action = pending.action
                let half = Amount(minorUnits: max(1, action.amount.minorUnits / 2)) ?? action.amount
                let edited = Action(kind: action.kind, from: action.from, to: action.to, amount: half, currency: action.currency)
                params["decision"] = "approve"
                params["edited_action"] = try JSONValue(encoding: edited)
            case .edit:
                params["decision"] = "approve"
            case .expire:
                return
            }
            do {
                _ = try await client.call("approval.decide", JSONValue.object(params), as: JSONValue.self, options: options)
            } catch let error as RPCError where error.status == .failedPrecondition || error.status == .alreadyExists {
                return  // decided meanwhile (expired, or this approver's vote was already in)
            }
            if decision == .reject { return }
        }
    }
}
