import Foundation
import Testing

@testable import RPC

/// The RPC core's tree coders (`WireJSON`) against Foundation's: the same values, the
/// same kinds of errors at the same places, and Foundation's own spelling wherever
/// the fast path steps aside.
struct WireJSONTests {
    struct Transfer: Codable, Equatable {
        let to: String
        let amount: String
        let memo: String?
    }

    struct Sample: Codable, Equatable {
        let name: String
        let count: Int
        let small: Int8
        let big: Int64
        let flag: Bool
        let tags: [String]
        let nested: [String: [Int]]
        let transfers: [Transfer]
        let document: JSONValue
        let optional: String?
        let nothing: JSONValue?

        enum CodingKeys: String, CodingKey {
            case name, count, small, big, flag, tags, nested, transfers, document, optional, nothing
        }
    }

    static let sample = Sample(
        name: "run \"one\"\n\u{1}é", count: 3, small: -7, big: 9_007_199_254_740_993, flag: true, tags: ["a", "b"],
        nested: ["x": [1, 2], "y": []],
        transfers: [Transfer(to: "bob", amount: "150.00", memo: nil), Transfer(to: "alice", amount: "1.00", memo: "rent")],
        document: ["messages": [["role": "user", "text": "Transfer $500"]], "pending": [], "version": 2, "ok": true, "none": nil],
        optional: nil, nothing: nil)

    @Test func aValueDecodesAndEncodesAsFoundationDoesIt() throws {
        let foundation = try JSONEncoder().encode(Self.sample)
        let fast = try WireJSON.encode(Self.sample, fallback: JSONEncoder())
        #expect(try JSONValue(parsing: fast) == JSONValue(parsing: foundation))
        #expect(try WireJSON.decode(Sample.self, from: foundation, fallback: JSONDecoder()) == Self.sample)
        #expect(try WireJSON.decode(Sample.self, from: fast, fallback: JSONDecoder()) == JSONDecoder().decode(Sample.self, from: fast))
        // A JSONValue member is the subtree itself, null included.
        let decoded = try WireJSON.decode(Sample.self, from: fast, fallback: JSONDecoder())
        #expect(decoded.document["messages"]?.arrayValues?.first?["text"] == "Transfer $500")
        #expect(decoded.document["none"] == .null)
    }

    @Test(arguments: [
        (#"{"to":"bob"}"#, "keyNotFound", "amount"),
        (#"{"to":5,"amount":"1.00"}"#, "typeMismatch", "to"),
        (#"{"to":null,"amount":"1.00"}"#, "valueNotFound", "to"),
        (#"{"to":"bob","amount":"1.00","memo":7}"#, "typeMismatch", "memo"),
        (#"[1]"#, "typeMismatch", "params"),
    ])
    func errorsAreTheKindAndPlaceFoundationReports(text: String, kind: String, field: String) throws {
        func described(_ body: () throws -> Transfer) -> (String, String) {
            do {
                _ = try body()
                return ("none", "")
            } catch let error as DecodingError {
                switch error {
                case .keyNotFound(let key, let context): return ("keyNotFound", ParamsError.path(context.codingPath + [key]))
                case .typeMismatch(_, let context): return ("typeMismatch", ParamsError.path(context.codingPath))
                case .valueNotFound(_, let context): return ("valueNotFound", ParamsError.path(context.codingPath))
                case .dataCorrupted(let context): return ("dataCorrupted", ParamsError.path(context.codingPath))
                @unknown default: return ("unknown", "")
                }
            } catch {
                return ("other", "\(error)")
            }
        }
        let data = Data(text.utf8)
        let fast = described { try WireJSON.decode(Transfer.self, from: data, fallback: JSONDecoder()) }
        let foundation = described { try JSONDecoder().decode(Transfer.self, from: data) }
        #expect(fast.0 == kind)
        #expect(fast.1 == field)
        #expect(fast == foundation)
    }

    @Test func pathsInsideArraysNameTheIndex() throws {
        struct Batch: Decodable { let transfers: [Transfer] }
        let data = Data(#"{"transfers":[{"to":"a","amount":"1"},{"to":"b"}]}"#.utf8)
        do {
            _ = try WireJSON.decode(Batch.self, from: data, fallback: JSONDecoder())
            Issue.record("a transfer without an amount decoded")
        } catch let error as DecodingError {
            guard case .keyNotFound(let key, let context) = error else { throw error }
            #expect(ParamsError.path(context.codingPath + [key]) == "transfers[1].amount")
        }
    }

    @Test func aValueOutsideAnEnumIsToldInTheCallersTermsNotSwifts() throws {
        enum Kind: String, Codable { case transfer, deposit }
        struct Body: Codable { let kind: Kind }
        do {
            _ = try WireJSON.decode(Body.self, from: Data(#"{"kind":"wire"}"#.utf8), fallback: JSONDecoder())
            Issue.record("an unknown kind decoded")
        } catch {
            let rpc = ParamsError.from(error)
            #expect(rpc.message == "kind: 'wire' is not one of the values this field takes (rpc.discover lists them)")
            #expect(!rpc.message.contains("Cannot initialize"))
        }
    }

    @Test func numbersOutOfRangeAndFractionsAreRefusedOrLeftToFoundation() throws {
        struct Small: Codable, Equatable { let value: Int8 }
        #expect(throws: DecodingError.self) { try WireJSON.decode(Small.self, from: Data(#"{"value":300}"#.utf8), fallback: JSONDecoder()) }
        struct Ratio: Codable, Equatable { let value: Double }
        // A fraction is parsed and spelled by Foundation, exactly as before.
        let ratio = Ratio(value: 0.1)
        #expect(try WireJSON.encode(ratio, fallback: JSONEncoder()) == JSONEncoder().encode(ratio))
        #expect(try WireJSON.decode(Ratio.self, from: Data(#"{"value":0.1}"#.utf8), fallback: JSONDecoder()) == ratio)
        #expect(try WireJSON.decode(Ratio.self, from: Data(#"{"value":2}"#.utf8), fallback: JSONDecoder()) == Ratio(value: 2))
    }

    @Test func aLongStringIsLeftToFoundationAndComesOutTheSame() throws {
        let long = Transfer(to: String(repeating: "é\"\n", count: 40_000), amount: "1.00", memo: nil)
        #expect(try WireJSON.tree(long) == nil, "past WireJSON.largestTreeString the value goes to Foundation")
        let encoded = try WireJSON.encode(long, fallback: JSONEncoder())
        #expect(try WireJSON.decode(Transfer.self, from: encoded, fallback: JSONDecoder()) == long)
        let short = Transfer(to: "bob", amount: "1.00", memo: nil)
        #expect(try WireJSON.tree(short) != nil)
    }

    @Test func typesFoundationTreatsSpeciallyKeepFoundationsForm() throws {
        struct Stamped: Codable, Equatable {
            let at: Date
            let blob: Data
            let link: URL
        }
        let value = Stamped(at: Date(timeIntervalSince1970: 1_800_000_000), blob: Data([1, 2, 3]), link: URL(string: "https://example.com/a")!)
        let encoded = try WireJSON.encode(value, fallback: JSONEncoder())
        let expected = try JSONEncoder().encode(value)
        // Foundation's forms (key order aside, which JSON does not fix): base64 bytes, the URL as a string.
        let tree = try JSONValue(parsing: encoded)
        #expect(tree == (try JSONValue(parsing: expected)))
        #expect(tree["blob"] == "AQID")
        #expect(tree["link"] == "https://example.com/a")
        #expect(try WireJSON.decode(Stamped.self, from: encoded, fallback: JSONDecoder()) == value)
    }

    @Test func nestedAndSuperEncodersWriteWhereTheyWereGiven() throws {
        struct Envelope: Encodable {
            let inner: JSONValue
            enum Keys: String, CodingKey { case head, params }
            enum Extra: String, CodingKey { case requestID = "request_id" }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode("2.0", forKey: .head)
                let params = container.superEncoder(forKey: .params)
                try inner.encode(to: params)
                var extra = params.container(keyedBy: Extra.self)
                try extra.encode(7, forKey: .requestID)
            }
        }
        let value = Envelope(inner: ["type": "run_paused", "pending": ["a-1"]])
        let fast = try JSONValue(parsing: WireJSON.encode(value, fallback: JSONEncoder()))
        #expect(fast == (try JSONValue(parsing: JSONEncoder().encode(value))))
        #expect(fast["params"]?["request_id"] == 7)
        #expect(fast["params"]?["pending"]?.arrayValues?.first == "a-1")
    }
}
