import Banking
import Testing

/// Money reads one way everywhere: `hitl`, notifications and the page (app.js `money()`).
struct MoneyTextTests {
    @Test(arguments: [
        ("0.00", nil, "$0.00"),
        ("5000.00", "USD", "$5,000.00"),
        ("1250.50", nil, "$1,250.50"),
        ("1234567.89", "USD", "$1,234,567.89"),
        ("-5.00", "USD", "-$5.00"),
        ("100.00", "EUR", "100.00 EUR"),
        ("12000.00", "EUR", "12,000.00 EUR"),
        ("not a number", "USD", "not a number"),
    ] as [(String, String?, String)])
    func amountsAreGroupedAndMarked(amount: String, currency: String?, shown: String) {
        #expect(MoneyText.display(amount, currency: currency) == shown)
    }

    @Test func anActionShowsItsAmountTheSameWay() throws {
        let action = Action(kind: .transfer, from: "checking", to: "bob", amount: try Amount(parsing: "10200.00"))
        #expect(action.displayAmount == "$10,200.00")
    }
}
