import LLM
import RPC
import Testing

@testable import Agent

/// Model output is validated before anything happens.
struct ValidationTests {
    @Test(arguments: ["50", "50.5", "1250.50", "0.01"])
    func validAmounts(text: String) throws {
        #expect(try Agent.amount(.string(text)).minorUnits > 0)
    }

    @Test(arguments: [JSONValue.string("12.345"), .string("-5"), .string("0"), .string("1e3"), .string("$5"), .double(150.5), .null, .bool(true)])
    func invalidAmountsAreRefused(value: JSONValue) {
        #expect(throws: ToolRefusal.self) { try Agent.amount(value) }
    }

    @Test func argumentsMustBeAJSONObject() throws {
        #expect(throws: ToolRefusal.self) { try Agent.arguments(ToolCall(id: "c", name: "deposit_money", arguments: "{not json")) }
        #expect(throws: ToolRefusal.self) { try Agent.arguments(ToolCall(id: "c", name: "deposit_money", arguments: "[1]")) }
        #expect(try Agent.arguments(ToolCall(id: "c", name: "get_balance", arguments: "")).isEmpty)
    }

    @Test func plansAreValidatedWhole() throws {
        let plan = try Agent.parsePlan(#"{"actions":[{"action_type":"check_balance"},{"action_type":"transfer","to_account":"bob","amount":"500"}]}"#)
        #expect(plan.map(\.actionType) == ["check_balance", "transfer"])
        for bad in [
            "not json", #"{"steps":[]}"#, #"{"actions":[{"action_type":"wire"}]}"#,
            #"{"actions":[{"action_type":"transfer","amount":"5"}]}"#,
            #"{"actions":[{"action_type":"deposit","amount":"5.001"}]}"#,
            #"{"actions":[{"action_type":"deposit"}]}"#,
        ] {
            #expect(throws: ToolRefusal.self, "\(bad)") { try Agent.parsePlan(bad) }
        }
    }

    @Test func planStepsBecomeTheSameToolCalls() throws {
        let call = try Agent.toolCall(for: PlanStep(actionType: "transfer", toAccount: "bob", amount: "500"), id: "step-1")
        #expect(call.name == "transfer_money")
        #expect(try JSONValue(parsing: call.arguments) == ["to_account": "bob", "amount": "500"])
    }
}
