import Foundation
import RPC

/// Checks values against `Protocols/ledger.openrpc.json`, as served by
/// `rpc.discover`: results against each method's result schema, errors against
/// the errors each method documents. Supports the JSON Schema subset the
/// document uses: type, required, properties, additionalProperties, items,
/// enum, pattern, minimum, $ref.
struct ContractSchema: Sendable {
    let document: JSONValue

    /// The method's documented result schema.
    func resultSchema(_ method: String) -> JSONValue? {
        methodEntry(method)?["result"]?["schema"]
    }

    /// The `STATUS/REASON` pairs a method documents, including shared ones.
    func documentedErrors(_ method: String) -> Set<String> {
        guard let entry = methodEntry(method) else { return [] }
        var found: Set<String> = []
        for key in ["errors", "x-element-errors"] {
            guard case .array(let errors)? = entry[key] else { continue }
            for error in errors {
                let resolved = resolve(error)
                if let status = resolved["data"]?["status"]?.stringValue, let reason = resolved["data"]?["reason"]?.stringValue {
                    found.insert("\(status)/\(reason)")
                }
            }
        }
        return found
    }

    /// Every method the document names.
    var methods: [String] {
        guard case .array(let methods)? = document["methods"] else { return [] }
        return methods.compactMap { $0["name"]?.stringValue }
    }

    private func methodEntry(_ method: String) -> JSONValue? {
        guard case .array(let methods)? = document["methods"] else { return nil }
        return methods.first { $0["name"]?.stringValue == method }
    }

    private func resolve(_ value: JSONValue) -> JSONValue {
        guard let ref = value["$ref"]?.stringValue, ref.hasPrefix("#/") else { return value }
        var node = document
        for part in ref.dropFirst(2).split(separator: "/") { node = node[String(part)] ?? .null }
        return resolve(node)
    }

    /// Problems with `value` against `schema` (empty when it conforms).
    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        let schema = resolve(schema)
        var problems: [String] = []
        if let type = schema["type"]?.stringValue, !Self.matches(value, type: type) {
            return ["\(path): expected \(type), got \(value.jsonText())"]
        }
        if case .array(let options)? = schema["enum"], !options.contains(value) {
            problems.append("\(path): \(value.jsonText()) is not one of \(JSONValue.array(options).jsonText())")
        }
        if let pattern = schema["pattern"]?.stringValue, let text = value.stringValue,
           text.range(of: pattern, options: .regularExpression) == nil {
            problems.append("\(path): '\(text)' does not match \(pattern)")
        }
        if let minimum = schema["minimum"]?.intValue, let number = value.intValue, number < minimum {
            problems.append("\(path): \(number) < \(minimum)")
        }
        if case .object(let members) = value {
            if case .array(let required)? = schema["required"] {
                for name in required.compactMap(\.stringValue) where members[name] == nil {
                    problems.append("\(path).\(name): required but missing")
                }
            }
            let properties: [String: JSONValue]
            if case .object(let declared)? = schema["properties"] { properties = declared } else { properties = [:] }
            for (name, member) in members {
                if let property = properties[name] {
                    problems += self.problems(member, property, at: "\(path).\(name)")
                } else if schema["additionalProperties"] == .bool(false) {
                    problems.append("\(path).\(name): not documented")
                }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() { problems += self.problems(item, itemSchema, at: "\(path)[\(index)]") }
        }
        return problems
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): true
        case ("integer", .int): true
        case ("number", .int), ("number", .double): true
        default: false
        }
    }
}
