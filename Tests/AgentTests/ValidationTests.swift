import LLM
import RPC
import Testing

@testable import Agent

/// Model output is validated before anything happens.
struct ValidationTests {
    @Test(arguments: ["\"50\"", "\"50.5\"", "\"1250.50\"", "\"0.01\"", "\"$50.00\"", "50", "50.5"])
    func validAmounts(amount: String) throws {
        let call = ToolCall(id: "c", name: "deposit_money", arguments: #"{"amount": \#(amount)}"#)
        #expect(try Agent.amount(in: call).minorUnits > 0)
    }

    @Test(arguments: ["\"12.345\"", "\"-5\"", "\"0\"", "\"1e3\"", "1e3", "150.505", "-1", "null", "true", "\"fifty\""])
    func invalidAmountsAreRefused(amount: String) {
        let call = ToolCall(id: "c", name: "deposit_money", arguments: #"{"amount": \#(amount)}"#)
        #expect(throws: ToolRefusal.self) { try Agent.amount(in: call) }
    }

    @Test func argumentsMustBeAJSONObject() throws {
        #expect(throws: ToolRefusal.self) { try Agent.arguments(ToolCall(id: "c", name: "deposit_money", arguments: "{not json")) }
        #expect(throws: ToolRefusal.self) { try Agent.arguments(ToolCall(id: "c", name: "deposit_money", arguments: "[1]")) }
        #expect(try Agent.arguments(ToolCall(id: "c", name: "get_balance", arguments: "")).isEmpty)
    }

    @Test func plansAreValidatedWhole() throws {
        let plan = try Agent.parsePlan(#"{"actions":[{"action_type":"check_balance"},{"action_type":"transfer","to_account":"bob","amount":"500"}]}"#)
        #expect(plan.map(\.actionType) == ["check_balance", "transfer"])
        #expect(plan[1].amount == "500.00")
        let forgiven = try Agent.parsePlan(#"{"actions":[{"action_type":"transfer","to_account":"alice","amount":"$50.00"},{"action_type":"deposit","amount":200}]}"#)
        #expect(forgiven.map(\.amount) == ["50.00", "200.00"])
        let fenced = try Agent.parsePlan("```json\n{\"actions\":[{\"action_type\":\"deposit\",\"to_account\":null,\"amount\":\"200.00\"}]}\n```")
        #expect(fenced.map(\.actionType) == ["deposit"])
        for bad in [
            "not json", #"{"steps":[]}"#, #"{"actions":[{"action_type":"wire"}]}"#,
            #"{"actions":[{"action_type":"transfer","amount":"5"}]}"#,
            #"{"actions":[{"action_type":"deposit","amount":"5.001"}]}"#,
            #"{"actions":[{"action_type":"deposit"}]}"#,
        ] {
            #expect(throws: ToolRefusal.self, "\(bad)") { try Agent.parsePlan(bad) }
        }
    }

    /// Servers that only turn the schema into a grammar never show it to the model; the
    /// plan request says it in words, every field with its description, before the user's message.
    @Test func planRequestsDescribeEveryField() throws {
        let item = try #require(Agent.planSchema["properties"]?["actions"]?["items"])
        for case .string(let field) in item["required"]?.arrayValues ?? [] {
            let description = try #require(item["properties"]?[field]?["description"]?.stringValue, "\(field) has no description")
            #expect(Agent.planInstruction.contains("\(field): "), "\(field)")
            #expect(Agent.planInstruction.contains(description), "\(field)")
        }
        let messages = Agent.withPlanInstruction([.system("bank"), .user("earlier"), .assistant(text: "ok", toolCalls: []), .user("Deposit $200")])
        #expect(messages.count == 5)
        #expect(messages[3] == .system(Agent.planInstruction))
        #expect(messages[4] == .user("Deposit $200"))
    }

    @Test func planStepsBecomeTheSameToolCalls() throws {
        let call = try Agent.toolCall(for: PlanStep(actionType: "transfer", toAccount: "bob", amount: "500"), id: "step-1")
        #expect(call.name == "transfer_money")
        #expect(try JSONValue(parsing: call.arguments) == ["to_account": "bob", "amount": "500"])
    }
}
