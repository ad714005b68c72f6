import Foundation
import RPC

/// One generated line: the exact bytes (without the newline) and how it was made.
struct FuzzLine: Sendable {
    /// How a line was made; the summary counts lines by kind.
    enum Kind: String, CaseIterable, Sendable {
        case valid, wrongType = "wrong-type", badMeta = "bad-meta", hugeNumber = "huge-number", deepNesting = "deep-nesting"
        case batch, notification, envelope, truncated, mutated, randomBytes = "random-bytes"
    }

    let bytes: [UInt8]
    let kind: Kind
    /// Derived from `bytes` (mutated and truncated lines are never held to an exact answer).
    let expectation: ExpectedAnswer
}

/// Generates the lines for one connection lane of one service, reproducibly from a seed.
struct LineGenerator {
    /// Who may hold a token: identity name and role, as TestHome provisions them.
    static let identities: [(name: String, role: String)] = [
        ("operator", "operator"), ("agent", "agent"), ("approver1", "approver"), ("approver2", "approver"),
    ]
    /// Lines by kind, in percent of the traffic.
    static let weights: [(FuzzLine.Kind, Int)] = [
        (.valid, 22), (.wrongType, 20), (.badMeta, 8), (.hugeNumber, 5), (.deepNesting, 3), (.batch, 7), (.notification, 4),
        (.envelope, 3), (.truncated, 10), (.mutated, 12), (.randomBytes, 6),
    ]
    static let hugeNumbers = [
        "1e400", "-1e400", "123456789012345678901234567890", "18446744073709551616", "-9223372036854775809", "1e-400",
        "0.0000000000000000000000000001", "9007199254740993", "1" + String(repeating: "0", count: 400), "-0", "0e0", "9223372036854775807",
        "-9223372036854775808", "18446744073709551615", "4.9e-324", "1.7976931348623157e308",
    ]

    let service: String
    let contract: ContractModel
    let sampler: SchemaSampler
    /// Tokens by identity name.
    let tokens: [String: String]
    private(set) var random: SeededRandom
    private var counter = 0
    /// Ids handed out so far: every request of a lane, batch entries included, gets its own.
    private var ids = 0
    private var sweep: Int
    private var raws: [String] = []

    init(service: String, contract: ContractModel, tokens: [String: String], seed: UInt64, lane: Int) {
        self.service = service
        self.contract = contract
        self.sampler = SchemaSampler(contract: contract)
        self.tokens = tokens
        random = SeededRandom(seed: seed, stream: "\(service)/\(lane)")
        sweep = lane * 7919  // lanes start the wrong-type sweep at different places
    }

    /// The next line.
    mutating func next() -> FuzzLine {
        counter += 1
        let kind = Self.weights[random.weighted(Self.weights.map(\.1))].0
        raws = []
        let text: [UInt8]
        switch kind {
        case .valid: text = encode(request(random.pick(contract.methods), id: freshID()))
        case .wrongType: text = encode(wrongType())
        case .badMeta: text = encode(badMeta())
        case .hugeNumber: text = encode(hugeNumber())
        case .deepNesting: text = deepNesting()
        case .batch: text = batch()
        case .notification: text = encode(request(random.pick(contract.methods), id: nil))
        case .envelope: text = encode(envelope())
        case .truncated: text = truncated()
        case .mutated: text = mutated()
        case .randomBytes: text = randomBytes()
        }
        var expectation = ExpectedAnswer.of(text)
        if kind == .truncated || kind == .mutated {
            switch expectation {
            case .reply, .batch: expectation = .loose
            default: break
            }
        }
        return FuzzLine(bytes: text, kind: kind, expectation: expectation)
    }

    /// A well-formed request that must be answered, for the slow writer.
    mutating func answerable() -> FuzzLine {
        counter += 1
        raws = []
        let text = encode(random.chance(50) ? request(random.pick(contract.methods), id: freshID()) : wrongType())
        return FuzzLine(bytes: text, kind: .valid, expectation: ExpectedAnswer.of(text))
    }

    // MARK: - Requests

    /// A unique id for a request that must be answered: strings (some with
    /// escapes), small, negative, beyond-2^53 and beyond-Int64 integers.
    private mutating func freshID() -> JSONValue {
        ids += 1
        let n = ids
        switch random.weighted([40, 25, 10, 10, 10, 5]) {
        case 0: return .string("q\(n)")
        case 1: return .int(Int64(n))
        case 2: return .int(-Int64(n))
        case 3: return .int(9_007_199_254_740_993 + Int64(n))
        case 4: return raw(String(UInt64.max - UInt64(n)))
        default: return .string("q\(n) é\"\\/\u{1F600}\t")
        }
    }

    /// A value spliced into the text as it is (numbers JSONValue cannot hold, deep nesting).
    private mutating func raw(_ text: String) -> JSONValue {
        raws.append(text)
        return .string("@@RAW\(raws.count - 1)@@")
    }

    private mutating func encode(_ value: JSONValue) -> [UInt8] {
        var text = value.jsonText()
        for (index, replacement) in raws.enumerated() {
            text = text.replacingOccurrences(of: "\"@@RAW\(index)@@\"", with: replacement)
        }
        return Array(text.utf8)
    }

    /// A token: mostly one whose role the method accepts, sometimes another role's,
    /// none, or one no service knows.
    private mutating func token(for method: ContractModel.Method) -> String? {
        switch random.weighted([60, 20, 10, 10]) {
        case 0:
            let allowed = Self.identities.filter { method.roles.isEmpty || method.roles.contains($0.role) }
            return tokens[random.pick(allowed.isEmpty ? Self.identities : allowed).name]
        case 1: return tokens[random.pick(Self.identities).name]
        case 2: return nil
        default: return "tok_fuzz_unknown_\(random.next() % 1000)"
        }
    }

    private mutating func meta(_ method: ContractModel.Method) -> [String: JSONValue] {
        var meta: [String: JSONValue] = [
            "deadline_ms": .int(method.mayBlock ? Int64.random(in: 50...800, using: &random) : Int64.random(in: 3_000...10_000, using: &random)),
        ]
        if let token = token(for: method) { meta["token"] = .string(token) }
        if random.chance(20) { meta["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
        return meta
    }

    private mutating func params(_ method: ContractModel.Method) -> [String: JSONValue] {
        var params: [String: JSONValue] = [:]
        for param in method.params where param.required || random.chance(50) {
            params[param.name] = sampler.sample(param.schema, name: param.name, using: &random)
        }
        return params
    }

    private mutating func request(_ method: ContractModel.Method, id: JSONValue?, params explicit: [String: JSONValue]? = nil) -> JSONValue {
        var params = explicit ?? params(method)
        params["_meta"] = .object(meta(method))
        var request: [String: JSONValue] = ["jsonrpc": "2.0", "method": .string(method.name), "params": .object(params)]
        if let id { request["id"] = id }
        return .object(request)
    }

    /// The sweep: each field of each method in turn, with each wrong value in turn.
    private mutating func wrongType() -> JSONValue {
        guard !contract.fields.isEmpty else { return request(random.pick(contract.methods), id: freshID()) }
        let field = contract.fields[sweep % contract.fields.count]
        let values = SchemaSampler.wrongValues
        let value = values[(sweep / contract.fields.count + sweep) % values.count]
        sweep += 1
        var params = params(field.method)
        if field.path.count == 1 {
            params[field.path[0]] = value
        } else {
            var parent: [String: JSONValue] = [:]
            if case .object(let existing)? = params[field.path[0]] { parent = existing }
            parent[field.path[1]] = value
            params[field.path[0]] = .object(parent)
        }
        return request(field.method, id: freshID(), params: params)
    }

    private mutating func badMeta() -> JSONValue {
        let method = random.pick(contract.methods)
        let base = meta(method)
        let someToken = tokens[random.pick(Self.identities).name] ?? ""
        // Variants that leave a call without a usable deadline only go to methods that end on their own.
        var variants: [JSONValue] = [
            "x", 5, [], true,
            .object(base.merging(["deadline_ms": "100"]) { $1 }), .object(base.merging(["deadline_ms": 1.5]) { $1 }),
            .object(base.merging(["deadline_ms": -1]) { $1 }), .object(base.merging(["deadline_ms": 0]) { $1 }),
            .object(base.merging(["deadline_ms": .int(Int64.min)]) { $1 }), .object(base.merging(["deadline_ms": raw("1e30")]) { $1 }),
            .object(base.merging(["token": 5]) { $1 }), .object(base.merging(["token": ["a"]]) { $1 }),
            .object(base.merging(["token": ""]) { $1 }), .object(base.merging(["token": .string(String(repeating: "t", count: 10_000))]) { $1 }),
            .object(base.merging(["token": .string(someToken + " ")]) { $1 }), .object(base.merging(["token": .string("\u{0}" + someToken)]) { $1 }),
            .object(base.merging(["traceparent": ""]) { $1 }), .object(base.merging(["traceparent": "garbage"]) { $1 }),
            .object(base.merging(["traceparent": "00-00000000000000000000000000000000-0000000000000000-00"]) { $1 }),
            .object(base.merging(["traceparent": "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"]) { $1 }),
            .object(base.merging(["traceparent": 5]) { $1 }), .object(base.merging(["x-unknown": ["nested": true]]) { $1 }),
        ]
        if !method.mayBlock {
            variants += [
                .null, .object([:]), .object(base.merging(["deadline_ms": .int(Int64.max)]) { $1 }),
                .object(base.merging(["deadline_ms": 9_999_999_999_999]) { $1 }), .object(["token": .string(someToken)]),
            ]
        }
        var params = params(method)
        params["_meta"] = random.pick(variants)
        return .object(["jsonrpc": "2.0", "id": freshID(), "method": .string(method.name), "params": .object(params)])
    }

    private mutating func hugeNumber() -> JSONValue {
        let number = random.pick(Self.hugeNumbers)
        let method = random.pick(contract.methods)
        switch random.weighted([30, 50, 20]) {
        case 0:
            var request = request(method, id: nil)
            if case .object(var fields) = request { fields["id"] = raw(number); request = .object(fields) }
            return request
        case 1 where !contract.fields.isEmpty:
            let field = random.pick(contract.fields)
            var params = params(field.method)
            params[field.path[0]] = field.path.count == 1 ? raw(number) : .object([field.path[1]: raw(number)])
            return request(field.method, id: freshID(), params: params)
        default:
            var params = params(method)
            var meta = meta(method)
            meta["deadline_ms"] = method.mayBlock && !number.contains("e") && !number.contains(".") && number.count < 20 ? 100 : raw(number)
            params["_meta"] = .object(meta)
            return .object(["jsonrpc": "2.0", "id": freshID(), "method": .string(method.name), "params": .object(params)])
        }
    }

    private mutating func deepNesting() -> [UInt8] {
        let depth = random.pick([8, 64, 500, 511, 512, 513, 600, 5_000, 100_000])
        let nested = random.chance(50)
            ? String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            : String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
        let method = random.pick(contract.methods)
        // Nesting as the whole params leaves no `_meta` deadline: only for methods that end on their own.
        switch random.weighted([40, method.mayBlock ? 0 : 20, 15, 15, 10]) {
        case 0:
            var params = params(method)
            params[random.pick(method.params.map(\.name) + ["extra"])] = raw(nested)
            return encode(request(method, id: freshID(), params: params))
        case 1:
            return encode(.object(["jsonrpc": "2.0", "id": freshID(), "method": .string(method.name), "params": raw(nested)]))
        case 2:
            var meta = meta(method)
            meta["token"] = raw(nested)
            var params = params(method)
            params["_meta"] = .object(meta)
            return encode(.object(["jsonrpc": "2.0", "id": freshID(), "method": .string(method.name), "params": .object(params)]))
        case 3:
            return encode(.object(["jsonrpc": "2.0", "id": raw(nested), "method": .string(method.name)]))
        default:
            return Array(nested.utf8)
        }
    }

    private mutating func batch() -> [UInt8] {
        switch random.weighted([80, 5, 5, 5, 5]) {
        case 0:
            let count = random.chance(90) ? Int.random(in: 1...12, using: &random) : Int.random(in: 13...120, using: &random)
            var entries: [JSONValue] = []
            for _ in 0..<count {
                let method = random.pick(contract.methods)
                switch random.weighted([55, 15, 10, 10, 10]) {
                case 0: entries.append(request(method, id: freshID()))
                case 1: entries.append(request(method, id: nil))
                case 2: entries.append(wrongType())
                case 3: entries.append(envelope())
                default: entries.append(random.pick([1, "x", [:], ["jsonrpc": "2.0"], [], .null, true]))
                }
            }
            return encode(.array(entries))
        case 1: return Array("[]".utf8)
        case 2: return encode(.array((0..<Int.random(in: 1...5, using: &random)).map { _ in request(random.pick(contract.methods), id: nil) }))
        case 3: return encode(.array((0...RPCLimits.maximumBatchEntries).map { _ in request(contract.methods[0], id: nil) }))
        default: return encode(.array([request(random.pick(contract.methods), id: freshID())]))
        }
    }

    private mutating func envelope() -> JSONValue {
        guard case .object(var fields) = request(random.pick(contract.methods), id: freshID()) else { return .null }
        switch random.weighted(Array(repeating: 1, count: 16)) {
        case 0: fields["jsonrpc"] = nil
        case 1: fields["jsonrpc"] = "1.0"
        case 2: fields["jsonrpc"] = 2.0
        case 3: fields["method"] = 5
        case 4: fields["method"] = nil
        case 5: fields["method"] = ""
        case 6: fields["method"] = "nope.nope"
        case 7: fields["method"] = .string("\(service).event")
        case 8: fields["params"] = 5
        case 9: fields["params"] = "x"
        case 10: fields["params"] = .null
        case 11: fields["params"] = [1, 2]
        case 12: fields["result"] = 1
        case 13: fields["id"] = random.pick([true, [:], [], 1.5, .null])
        case 14: fields["params"] = []
        default: fields["method"] = "rpc.discover\u{0}"
        }
        return .object(fields)
    }

    /// A valid request with an id of its own kind (`m<n>`): the base for truncation and mutation.
    private mutating func base() -> [UInt8] {
        encode(request(random.pick(contract.methods), id: .string("m\(counter)")))
    }

    private mutating func truncated() -> [UInt8] {
        let line = base()
        return Array(line.prefix(Int.random(in: 1..<max(2, line.count), using: &random)))
    }

    private mutating func mutated() -> [UInt8] {
        var line = base()
        let interesting = Array("{}[]\",:\\0-e.a \u{7F}".utf8) + [0xC3, 0xFF, 0x00, 0x80]
        for _ in 0..<Int.random(in: 1...4, using: &random) where !line.isEmpty {
            let at = Int.random(in: 0..<line.count, using: &random)
            switch random.weighted([35, 25, 30, 10]) {
            case 0: line[at] = random.chance(50) ? random.pick(interesting) : UInt8.random(in: 0...255, using: &random)
            case 1: line.remove(at: at)
            case 2: line.insert(random.pick(interesting), at: at)
            default:
                let end = min(line.count, at + Int.random(in: 1...40, using: &random))
                line.insert(contentsOf: line[at..<end], at: at)
            }
        }
        return line.map { $0 == 0x0A ? 0x20 : $0 }
    }

    private mutating func randomBytes() -> [UInt8] {
        let length = Int.random(in: 1...300, using: &random)
        let alphabet: [UInt8]
        switch random.weighted([40, 30, 30]) {
        case 0: alphabet = Array(0...255).map(UInt8.init)
        case 1: alphabet = Array(33...126).map(UInt8.init)
        default: alphabet = Array("{}[]\",:0123456789.-+eEtruefalsnl \\u".utf8)
        }
        var bytes = (0..<length).map { _ in random.pick(alphabet) }.map { $0 == 0x0A ? 0x20 : $0 }
        if [0x20, 0x09, 0x0D].contains(bytes[0]) { bytes[0] = UInt8(ascii: "#") }
        return bytes
    }
}
