import Foundation
import RPC

/// A service's OpenRPC contract, for checking what it answers: results against
/// each method's result schema, errors against the errors it documents.
///
/// The schema check covers the JSON Schema subset the contracts use: type (one
/// or several), enum, const, required, properties, additionalProperties: false,
/// items, min/maxItems, minimum/maximum, min/maxLength, pattern, and `$ref` to a
/// local pointer or to another schema file given in `externalSchemas`
/// (`grant.schema.json`, `grant.schema.json#/definitions/Action`).
public struct ServedContract: Sendable {
    /// An error a method documents.
    public struct DocumentedError: Hashable, Sendable {
        public let code: Int64?
        public let status: String
        public let reason: String
    }

    /// The whole document.
    public let document: JSONValue
    private let externalSchemas: [String: JSONValue]

    /// - Parameters:
    ///   - document: the contract, as `rpc.discover` serves it.
    ///   - externalSchemas: other schema files its `$ref`s name, by file name.
    public init(document: JSONValue, externalSchemas: [String: JSONValue] = [:]) {
        self.document = document
        self.externalSchemas = externalSchemas
    }

    /// Every method the document names, sorted.
    public var methodNames: [String] {
        guard case .array(let methods)? = document["methods"] else { return [] }
        return methods.compactMap { $0["name"]?.stringValue }.sorted()
    }

    /// A method's entry.
    public func method(_ name: String) -> JSONValue? {
        guard case .array(let methods)? = document["methods"] else { return nil }
        return methods.first { $0["name"]?.stringValue == name }
    }

    /// A method's result schema.
    public func resultSchema(_ name: String) -> JSONValue? {
        method(name)?["result"]?["schema"]
    }

    /// The errors a method documents (`errors`, and `x-element-errors` for batches).
    public func documentedErrors(_ name: String) -> Set<DocumentedError> {
        guard let entry = method(name) else { return [] }
        var found: Set<DocumentedError> = []
        for key in ["errors", "x-element-errors"] {
            guard case .array(let errors)? = entry[key] else { continue }
            for error in errors {
                let resolved = resolve(error, base: document).schema
                guard let status = resolved["data"]?["status"]?.stringValue, let reason = resolved["data"]?["reason"]?.stringValue else { continue }
                found.insert(DocumentedError(code: resolved["code"]?.intValue, status: status, reason: reason))
            }
        }
        return found
    }

    /// Whether a method documents `reason` among its errors.
    public func documents(reason: String, for name: String) -> Bool {
        documentedErrors(name).contains { $0.reason == reason }
    }

    /// Problems with `value` as the result of `name`; empty when it conforms.
    public func resultProblems(_ name: String, _ value: JSONValue) -> [String] {
        guard let schema = resultSchema(name) else { return ["\(name) has no documented result"] }
        return problems(value, schema, at: "result")
    }

    /// Problems with `value` against `schema`; empty when it conforms.
    public func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        problems(value, schema, base: document, at: path)
    }

    private func problems(_ value: JSONValue, _ rawSchema: JSONValue, base rawBase: JSONValue, at path: String) -> [String] {
        let (schema, base) = resolve(rawSchema, base: rawBase)
        guard case .object(let rules) = schema else { return [] }
        if let type = rules["type"] {
            let allowed: [String] = if case .array(let names) = type { names.compactMap(\.stringValue) } else { [type.stringValue ?? ""] }
            guard allowed.contains(where: { Self.matches(value, type: $0) }) else {
                return ["\(path): \(value.jsonText()) is not of type \(allowed.joined(separator: "|"))"]
            }
        }
        var found: [String] = []
        if case .array(let options)? = rules["enum"], !options.contains(value) { found.append("\(path): \(value.jsonText()) is not one of \(JSONValue.array(options).jsonText())") }
        if let constant = rules["const"], constant != value { found.append("\(path): \(value.jsonText()) is not \(constant.jsonText())") }
        switch value {
        case .object(let members):
            if case .array(let required)? = rules["required"] {
                for name in required.compactMap(\.stringValue) where members[name] == nil { found.append("\(path).\(name): required but missing") }
            }
            let properties: [String: JSONValue] = if case .object(let declared)? = rules["properties"] { declared } else { [:] }
            for (name, member) in members {
                if let property = properties[name] {
                    found += problems(member, property, base: base, at: "\(path).\(name)")
                } else if rules["additionalProperties"] == .bool(false) {
                    found.append("\(path).\(name): not in the contract")
                }
            }
        case .array(let items):
            if let itemSchema = rules["items"] {
                for (index, item) in items.enumerated() { found += problems(item, itemSchema, base: base, at: "\(path)[\(index)]") }
            }
            if let minimum = rules["minItems"]?.intValue, items.count < minimum { found.append("\(path): fewer than \(minimum) items") }
            if let maximum = rules["maxItems"]?.intValue, items.count > maximum { found.append("\(path): more than \(maximum) items") }
        case .int(let number):
            if let minimum = rules["minimum"]?.intValue, number < minimum { found.append("\(path): \(number) < \(minimum)") }
            if let maximum = rules["maximum"]?.intValue, number > maximum { found.append("\(path): \(number) > \(maximum)") }
        case .string(let text):
            if let minimum = rules["minLength"]?.intValue, text.count < minimum { found.append("\(path): shorter than \(minimum)") }
            if let maximum = rules["maxLength"]?.intValue, text.count > maximum { found.append("\(path): longer than \(maximum)") }
            if let pattern = rules["pattern"]?.stringValue, text.range(of: pattern, options: .regularExpression) == nil {
                found.append("\(path): '\(text)' does not match \(pattern)")
            }
        default:
            break
        }
        return found
    }

    /// Follows `$ref`s; returns the schema and the document its own local refs point into.
    private func resolve(_ value: JSONValue, base: JSONValue) -> (schema: JSONValue, base: JSONValue) {
        guard let reference = value["$ref"]?.stringValue else { return (value, base) }
        let parts = reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        var target = base
        if let file = parts.first, !file.isEmpty {
            guard let external = externalSchemas[String(file)] else { return (.null, base) }
            target = external
        }
        var node = target
        if parts.count == 2 {
            for part in parts[1].split(separator: "/") {
                guard let next = node[String(part)] else { return (.null, target) }
                node = next
            }
        }
        return resolve(node, base: target)
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("integer", .int),
            ("number", .int), ("number", .double):
            true
        default:
            false
        }
    }
}
