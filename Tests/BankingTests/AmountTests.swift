import Banking
import Wire
import Testing

struct AmountTests {
    @Test(arguments: [
        ("150", 15_000), ("150.0", 15_000), ("150.00", 15_000), ("0.5", 50), ("0.05", 5), ("0", 0),
        ("1250.50", 125_050), ("1000000000", 100_000_000_000), ("1000000000.00", 100_000_000_000),
    ])
    func parsesExactly(_ text: String, _ cents: Int64) throws {
        #expect(try Amount(parsing: text).minorUnits == cents)
    }

    @Test(arguments: [
        ("", AmountError.notDecimal("")), ("-5", .notDecimal("-5")), ("+5", .notDecimal("+5")), ("1e3", .notDecimal("1e3")),
        ("NaN", .notDecimal("NaN")), ("Infinity", .notDecimal("Infinity")), ("1,000", .notDecimal("1,000")),
        (" 5", .notDecimal(" 5")), ("5.", .notDecimal("5.")), (".5", .notDecimal(".5")), ("007", .notDecimal("007")),
        ("1.005", .tooPrecise("1.005")), ("0.001", .tooPrecise("0.001")), ("1000000000.01", .tooLarge("1000000000.01")),
        ("99999999999999999999", .tooLarge("99999999999999999999")), ("1.2.3", .notDecimal("1.2.3")), ("$5", .notDecimal("$5")),
    ])
    func refuses(_ text: String, _ expected: AmountError) {
        #expect(throws: expected) { try Amount(parsing: text) }
    }

    @Test func zeroIsNotAMovement() {
        #expect(throws: RPCError.self) { try Amount.positive("0.00") }
        do {
            _ = try Amount.positive("0")
        } catch let error as RPCError {
            #expect(error.reason == "AMOUNT_NOT_POSITIVE")
            #expect(error.details["field"] == .string("amount"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(arguments: [(Int64(15_000), "150.00"), (5, "0.05"), (50, "0.50"), (0, "0.00"), (100_000_000_000, "1000000000.00")])
    func formatsWithTwoDecimals(_ cents: Int64, _ text: String) throws {
        let amount = try #require(Amount(minorUnits: cents))
        #expect(amount.description == text)
        #expect(try Amount(parsing: text) == amount)
    }
}
