/// Money as people read it, one way everywhere (`hitl`, notifications, and the web
/// page's `money()` in app.js):
/// `$1,250.50` for US dollars, `1,250.50 EUR` for other currencies, `-$5.00` when
/// negative. The amount's own digits are kept exactly (no floating point).
public enum MoneyText {
    /// - Parameters:
    ///   - amount: a decimal string as the services send it (`1250.50`, `-5.00`).
    ///   - currency: the ISO code; nil or `USD` gives the `$` form.
    public static func display(_ amount: String, currency: String? = nil) -> String {
        var digits = Substring(amount)
        let negative = digits.first == "-"
        if negative { digits = digits.dropFirst() }
        let whole = digits.prefix { $0 != "." }
        let fraction = digits.dropFirst(whole.count)
        guard !whole.isEmpty, whole.allSatisfy(\.isASCII), whole.allSatisfy(\.isNumber) else { return amount }
        var grouped = ""
        for (index, digit) in whole.enumerated() {
            if index > 0, (whole.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        let number = grouped + fraction
        let sign = negative ? "-" : ""
        guard let currency, currency != "USD" else { return "\(sign)$\(number)" }
        return "\(sign)\(number) \(currency)"
    }
}

extension Action {
    /// The amount as people read it: `$1,250.50`, or `1,250.50 EUR`.
    public var displayAmount: String { MoneyText.display(amount.description, currency: currency) }
}
