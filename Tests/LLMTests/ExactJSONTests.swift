import LLM
import Testing

/// JSON read exactly as written: numbers stay text, order is kept, bad JSON is refused.
struct ExactJSONTests {
    @Test(arguments: ["0", "-0", "50", "50.0", "50.10", "0.29", "1e3", "1E-2", "-12.5e+10", "123456789012345678901234567890.123"])
    func numbersKeepTheirText(text: String) throws {
        #expect(ExactJSON(parsing: text) == .number(text))
        #expect(ExactJSON(parsing: #"{"amount": \#(text)}"#)?["amount"] == .number(text))
    }

    @Test(arguments: ["01", "1.", ".5", "+1", "1e", "--1", "0x10", "NaN", "Infinity"])
    func malformedNumbersAreRefused(text: String) {
        #expect(ExactJSON(parsing: text) == nil)
    }

    @Test func objectsKeepOrderAndRefuseRepeatedKeys() throws {
        let value = try #require(ExactJSON(parsing: #"{"b": 1, "a": [true, null, "x"]}"#))
        #expect(value.jsonText == #"{"b":1,"a":[true,null,"x"]}"#)
        #expect(ExactJSON(parsing: #"{"amount": "1", "amount": "1000"}"#) == nil)
    }

    @Test func stringsAreUnescapedAndWrittenBack() throws {
        let value = try #require(ExactJSON(parsing: #""a\"b\\c\n\u00e9\ud83d\ude00/\/""#))
        #expect(value == .string("a\"b\\c\né😀//"))
        #expect(value.jsonText == #""a\"b\\c\né😀//""#)
        #expect(ExactJSON(parsing: #""\ud83d""#) == nil)  // a lone surrogate
        #expect(ExactJSON(parsing: "\"a\u{01}\"") == nil)  // a raw control character
        #expect(ExactJSON(parsing: #""\x41""#) == nil)
    }

    @Test func trailingTextAndDeepNestingAreRefused() {
        #expect(ExactJSON(parsing: "{} x") == nil)
        #expect(ExactJSON(parsing: "{\"a\": 1,}") == nil)
        let deep = String(repeating: "[", count: ExactJSON.maximumDepth + 1) + String(repeating: "]", count: ExactJSON.maximumDepth + 1)
        #expect(ExactJSON(parsing: deep) == nil)
        let fine = String(repeating: "[", count: ExactJSON.maximumDepth) + String(repeating: "]", count: ExactJSON.maximumDepth)
        #expect(ExactJSON(parsing: fine) != nil)
    }

    @Test func aPrefixSaysWhereItEnds() throws {
        let bytes = Array(#"  {"a": 1} and more"#.utf8)
        let (value, end) = try #require(ExactJSON.prefix(of: bytes, at: 0))
        #expect(value == .object([ExactJSON.Member("a", .number("1"))]))
        #expect(String(decoding: bytes[end...], as: UTF8.self) == " and more")
    }
}
