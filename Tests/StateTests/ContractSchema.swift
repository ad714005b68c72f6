import Foundation
import RPC

/// The state service's contract as `rpc.discover` serves it, and a small
/// JSON Schema checker for the subset the contract uses (type, enum, const,
/// required, properties, additionalProperties, items, bounds, pattern, local $ref).
struct Contract {
    let document: JSONValue

    /// The method's entry in the contract.
    func method(_ name: String) -> JSONValue? {
        guard case .array(let methods)? = document["methods"] else { return nil }
        return methods.first { $0["name"]?.stringValue == name }
    }

    /// Problems with `result` against the method's result schema; empty when it conforms.
    func resultProblems(_ name: String, _ result: JSONValue) -> [String] {
        guard let schema = method(name)?["result"]?["schema"] else { return ["\(name) has no result schema"] }
        return problems(result, schema, at: "result")
    }

    /// The (status, reason) pairs the method documents, shared errors included.
    func documentedErrors(_ name: String) -> Set<String> {
        guard case .array(let errors)? = method(name)?["errors"] else { return [] }
        return Set(errors.compactMap { entry in
            let error = resolve(entry)
            guard let status = error["data"]?["status"]?.stringValue, let reason = error["data"]?["reason"]?.stringValue,
                  let code = error["code"]?.intValue
            else { return nil }
            return "\(code) \(status)/\(reason)"
        })
    }

    func resolve(_ value: JSONValue) -> JSONValue {
        guard let reference = value["$ref"]?.stringValue, reference.hasPrefix("#/") else { return value }
        var node = document
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let next = node[String(part)] else { return .null }
            node = next
        }
        return resolve(node)
    }

    func problems(_ value: JSONValue, _ rawSchema: JSONValue, at path: String) -> [String] {
        let schema = resolve(rawSchema)
        guard case .object(let rules) = schema else { return [] }
        var found: [String] = []
        if let type = rules["type"] {
            let allowed: [String] = if case .array(let names) = type { names.compactMap(\.stringValue) } else { [type.stringValue ?? ""] }
            guard allowed.contains(where: { Self.matches(value, type: $0) }) else {
                return ["\(path): \(value.jsonText()) is not of type \(allowed.joined(separator: "|"))"]
            }
        }
        if case .array(let options)? = rules["enum"], !options.contains(value) { found.append("\(path): \(value.jsonText()) not in enum") }
        if let constant = rules["const"], constant != value { found.append("\(path): \(value.jsonText()) is not \(constant.jsonText())") }
        if case .object(let members) = value {
            if case .array(let required)? = rules["required"] {
                for name in required.compactMap(\.stringValue) where members[name] == nil { found.append("\(path).\(name) is missing") }
            }
            let properties: [String: JSONValue] = if case .object(let p)? = rules["properties"] { p } else { [:] }
            for (name, member) in members {
                if let property = properties[name] {
                    found += problems(member, property, at: "\(path).\(name)")
                } else if rules["additionalProperties"] == .bool(false) {
                    found.append("\(path).\(name) is not documented")
                }
            }
        }
        if case .array(let items) = value {
            if let itemSchema = rules["items"] {
                for (index, item) in items.enumerated() { found += problems(item, itemSchema, at: "\(path)[\(index)]") }
            }
            if let minimum = rules["minItems"]?.intValue, items.count < minimum { found.append("\(path): fewer than \(minimum) items") }
            if let maximum = rules["maxItems"]?.intValue, items.count > maximum { found.append("\(path): more than \(maximum) items") }
        }
        if case .int(let number) = value {
            if let minimum = rules["minimum"]?.intValue, number < minimum { found.append("\(path): \(number) < \(minimum)") }
            if let maximum = rules["maximum"]?.intValue, number > maximum { found.append("\(path): \(number) > \(maximum)") }
        }
        if case .string(let text) = value {
            if let minimum = rules["minLength"]?.intValue, text.count < minimum { found.append("\(path): shorter than \(minimum)") }
            if let maximum = rules["maxLength"]?.intValue, text.count > maximum { found.append("\(path): longer than \(maximum)") }
            if let pattern = rules["pattern"]?.stringValue, text.range(of: pattern, options: .regularExpression) == nil {
                found.append("\(path): \(text) does not match \(pattern)")
            }
        }
        return found
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("integer", .int),
            ("number", .int), ("number", .double):
            true
        default:
            false
        }
    }
}
