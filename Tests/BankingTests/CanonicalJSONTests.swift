import Banking
import Foundation
import Wire
import Testing

/// The hand-written canonical bytes must stay byte-identical to what
/// `JSONEncoder` with sorted keys produced before: grants signed by either
/// verify under the other.
struct CanonicalJSONTests {
    /// Strings that exercise every escape: quotes, backslashes, slashes, every
    /// control character, DEL, and non-ASCII text (accents, CJK, emoji, U+2028,
    /// combining marks).
    static let awkward: [String] = [
        "", "plain", "with \"quotes\"", #"back\slash"#, "a/b//c", "tab\there", "line\nfeed", "cr\rlf",
        "\u{08}\u{0C}", String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }), "del\u{7F}",
        "café", "naïve résumé", "日本語のメモ", "emoji 💸🏦", "sep\u{2028}para\u{2029}", "e\u{0301}", "\u{FEFF}bom",
        "\u{10FFFF}", "mixed \"/\\\n\u{1F}é💸",
    ]

    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 29)
        }
    }

    static func text(_ generator: inout Generator) -> String {
        if Bool.random(using: &generator) { return awkward.randomElement(using: &generator)! }
        let pool = Array("abcXYZ019_-:.\"\\/\n\t\u{01}\u{1F}é日💸 ")
        return String((0..<Int.random(in: 0...24, using: &generator)).map { _ in pool.randomElement(using: &generator)! })
    }

    /// A grant as it could arrive on the wire: any string in any field.
    static func wireGrant(_ generator: inout Generator) throws -> Grant {
        let deposit = Bool.random(using: &generator)
        var action: [String: JSONValue] = [
            "kind": .string(deposit ? "deposit" : "transfer"), "to": .string(text(&generator)),
            "amount": .string(["0.01", "150", "150.5", "1000000000.00", "7.07"].randomElement(using: &generator)!),
            "currency": .string(text(&generator)),
        ]
        if !deposit { action["from"] = .string(text(&generator)) }
        let grant: [String: JSONValue] = [
            "grant_id": .string(text(&generator)), "approval_id": .string(text(&generator)),
            "approval_version": .int(Int64.random(in: Int64.min...Int64.max, using: &generator)),
            "run_id": .string(text(&generator)), "call_id": .string(text(&generator)), "action": .object(action),
            "idempotency_key": .string(text(&generator)),
            "approvers": .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in .string(text(&generator)) }),
            "policy_version": .string(text(&generator)), "issued_at": .string(text(&generator)),
            "expires_at": .string(text(&generator)), "key_id": .string(text(&generator)), "signature": .string("x"),
        ]
        return try JSONValue.object(grant).decode(as: Grant.self)
    }

    static func reference(_ body: Grant.Body) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(body)
    }

    @Test func handWrittenBytesEqualJSONEncoderForManyGrants() throws {
        var generator = Generator(state: 20_251_125)
        for round in 0..<2_000 {
            let body = try Self.wireGrant(&generator).body
            let expected = try Self.reference(body)
            let actual = body.canonicalBytes
            #expect(actual == expected, "grant \(round): \(String(decoding: actual, as: UTF8.self)) != \(String(decoding: expected, as: UTF8.self))")
            if actual != expected { return }
        }
    }

    @Test(arguments: awkward)
    func everyAwkwardStringInEveryStringField(_ text: String) throws {
        let action = Action(kind: .transfer, from: text, to: text, amount: try Amount(parsing: "1"), currency: text)
        let body = Grant.Body(
            grantID: text, approvalID: text, approvalVersion: 1, runID: text, callID: text, action: action,
            idempotencyKey: text, approvers: [text, "b" + text], policyVersion: text, issuedAt: Date(), expiresAt: Date(), keyID: text)
        #expect(body.canonicalBytes == (try Self.reference(body)))
    }

    @Test func fixedFormatTimesAgreeWithFoundation() throws {
        var generator = Generator(state: 7)
        for _ in 0..<3_000 {
            let seconds = Int64.random(in: 0...4_102_444_800, using: &generator)  // 1970 to 2100
            let text = GrantTime.format(Date(timeIntervalSince1970: TimeInterval(seconds)))
            #expect(GrantTime.parseFixed(text) == seconds, "\(text)")
            #expect(GrantTime.parse(text) == (try Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)))
        }
        for leap in ["2024-02-29T00:00:00Z", "2000-02-29T12:00:00Z", "1970-01-01T00:00:00Z", "2099-12-31T23:59:59Z"] {
            #expect(GrantTime.parseFixed(leap).map { Date(timeIntervalSince1970: TimeInterval($0)) }
                    == (try Date.ISO8601FormatStyle(timeZone: .gmt).parse(leap)), "\(leap)")
        }
    }

    @Test(arguments: [
        "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z", "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00", "2026-01-01T00:00:00z", "2026-1-01T00:00:00Z", "+026-01-01T00:00:00Z", "2026-01-01T00:00:0aZ",
        "", "2026-01-01T00:00:00.5Z",
    ])
    func malformedTimesAreNotFixedFormat(_ text: String) {
        #expect(GrantTime.parseFixed(text) == nil)
    }
}
