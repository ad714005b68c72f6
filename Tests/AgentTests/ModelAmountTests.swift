import Banking
import LLM
import Testing

@testable import Agent

/// The agent's model-facing amount parser: exact, forgiving only what is unambiguous.
struct ModelAmountTests {
    /// What models write for an amount, and the exact cents it means.
    @Test(arguments: [
        (ExactJSON.string("$50.00"), Int64(5_000)),
        (.string("50"), 5_000),
        (.number("50"), 5_000),
        (.number("50.0"), 5_000),
        (.number("50.10"), 5_010),
        (.number("0.1"), 10),
        (.string("1,250.50"), 125_050),
        (.string("$1,250.50"), 125_050),
        (.string("USD 50"), 5_000),
        (.string("usd50"), 5_000),
        (.string("US$ 50"), 5_000),
        (.string("50 USD"), 5_000),
        (.string("50.00 dollars"), 5_000),
        (.string("$ 200"), 20_000),
        (.string("200$"), 20_000),
        (.string(" 500.00 "), 50_000),
        (.string("1,000,000"), 100_000_000),
        (.string("050"), 5_000),
        (.string("0.99"), 99),
        (.string("1000000000.00"), 100_000_000_000),
    ])
    func forgivenFormatsAreExact(value: ExactJSON, cents: Int64) throws {
        #expect(try ModelAmount.parse(value).minorUnits == cents)
    }

    /// Ambiguous or lossy amounts stay an error the model can act on; each message says what is wrong.
    @Test(arguments: [
        (ExactJSON.string("50.005"), "more than two decimals"),
        (.number("50.005"), "more than two decimals"),
        (.string("1.250,50"), "ambiguous"),
        (.string("1,25"), "ambiguous"),
        (.string("12,50"), "ambiguous"),
        (.string("1,2345.00"), "ambiguous"),
        (.string("fifty"), "not an amount"),
        (.string("50 bucks"), "not an amount"),
        (.string("5 0"), "not an amount"),
        (.string(""), "not an amount"),
        (.string("$$50"), "not an amount"),
        (.string("50."), "not an amount"),
        (.string("1e3"), "not an amount"),
        (.number("1e3"), "exponent"),
        (.number("5E+1"), "exponent"),
        (.number("-5"), "negative"),
        (.string("-5"), "sign"),
        (.string("-$5"), "sign"),
        (.string("0"), "more than zero"),
        (.number("0.00"), "more than zero"),
        (.string("€50"), "another currency"),
        (.string("50 EUR"), "another currency"),
        (.string("£20"), "another currency"),
        (.string("10000000000"), "over the limit"),
        (.string(String(repeating: "9", count: 60)), "too long"),
        (.null, "missing"),
        (.bool(true), "decimal string"),
        (.array([.number("50")]), "decimal string"),
    ])
    func refusedFormatsSayWhy(value: ExactJSON, fragment: String) {
        do {
            let amount = try ModelAmount.parse(value)
            Issue.record("\(value) was read as \(amount)")
        } catch let refusal as ToolRefusal {
            #expect(refusal.message.contains(fragment), "\(value): \(refusal.message)")
        } catch {
            Issue.record("\(value): unexpected \(error)")
        }
    }

    /// A number's digits are read from the text the model wrote, not from a Double:
    /// 0.29 in binary is 0.28999…, and a parser through Double could make it 28 cents.
    @Test func numbersNeverPassThroughDouble() throws {
        for cents in [1, 7, 29, 57, 99, 110, 1_005, 123_456_789] as [Int64] {
            let text = "\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)"
            let call = ToolCall(id: "c", name: "deposit_money", arguments: #"{"amount": \#(text)}"#)
            #expect(try Agent.amount(in: call).minorUnits == cents, "\(text)")
        }
    }

    /// The schema a grammar-constrained server enforces accepts exactly the strict wire form.
    @Test(arguments: ["50", "50.5", "50.00", "0.01", "1000000000.00"])
    func patternAcceptsWireAmounts(text: String) throws {
        #expect(text.wholeMatch(of: try Regex(ModelAmount.pattern.dropFirst().dropLast().description)) != nil)
        #expect(try Amount(parsing: text).description.isEmpty == false)
    }

    @Test(arguments: ["$50.00", "50.005", "1,250.50", "-5", "1e3", "050", "50.", ".5", "USD 50", "10000000000"])
    func patternRefusesWhatTheModelMustNotWrite(text: String) throws {
        #expect(text.wholeMatch(of: try Regex(ModelAmount.pattern.dropFirst().dropLast().description)) == nil)
    }

    /// Every amount the tools and the ActionPlan take carries the pattern, so a server
    /// that turns schemas into grammars cannot let the model write "$50.00".
    @Test func schemasCarryThePattern() {
        for tool in Agent.tools where tool.name != "get_balance" {
            #expect(tool.parameters["properties"]?["amount"]?["pattern"]?.stringValue == ModelAmount.pattern, "\(tool.name)")
            #expect(tool.parameters["additionalProperties"] == .bool(false))
        }
        let step = Agent.planSchema["properties"]?["actions"]?["items"]
        #expect(step?["properties"]?["amount"]?["pattern"]?.stringValue == ModelAmount.pattern)
        #expect(step?["properties"]?["action_type"]?["enum"] == ["check_balance", "transfer", "deposit"])
        #expect(step?["additionalProperties"] == .bool(false))
    }
}
