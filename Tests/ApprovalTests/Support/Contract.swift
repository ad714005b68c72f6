import Foundation
import RPC

/// `Protocols/approval.openrpc.json` merged with the common contract, read by
/// the tests: which reasons each method documents, and a small JSON Schema
/// check (type, required, properties, additionalProperties, enum, items, $ref)
/// for results.
struct Contract: Sendable {
    static let shared = Contract()

    let document: JSONValue
    private let grantSchema: JSONValue

    private init() {
        let protocols = repositoryRoot.appendingPathComponent("Protocols")
        func load(_ name: String) -> JSONValue {
            let text = (try? String(contentsOf: protocols.appendingPathComponent(name), encoding: .utf8)) ?? "{}"
            return (try? JSONValue(parsing: text)) ?? .object([:])
        }
        let own = load("approval.openrpc.json")
        let common = load("common.openrpc.json")
        var components: [String: JSONValue] = [:]
        for source in [common, own] {
            guard case .object(let sections)? = source["components"] else { continue }
            for (section, value) in sections {
                guard case .object(let entries) = value else { continue }
                var merged: [String: JSONValue] = [:]
                if case .object(let existing)? = components[section] { merged = existing }
                merged.merge(entries) { $1 }
                components[section] = .object(merged)
            }
        }
        var document: [String: JSONValue] = [:]
        if case .object(let fields) = own { document = fields }
        document["components"] = .object(components)
        self.document = .object(document)
        grantSchema = load("grant.schema.json")
    }

    var methodNames: [String] {
        guard case .array(let methods)? = document["methods"] else { return [] }
        return methods.compactMap { $0["name"]?.stringValue }.sorted()
    }

    func method(_ name: String) -> JSONValue? {
        guard case .array(let methods)? = document["methods"] else { return nil }
        return methods.first { $0["name"]?.stringValue == name }
    }

    /// Whether `method` lists `reason` among its errors.
    func documents(reason: String, for method: String) -> Bool {
        guard case .array(let errors)? = self.method(method)?["errors"] else { return false }
        return errors.contains { resolve($0)["data"]?["reason"]?.stringValue == reason }
    }

    /// Problems with `value` as the result of `method` (empty: it conforms).
    func validateResult(of method: String, _ value: JSONValue) -> [String] {
        guard let schema = self.method(method)?["result"]?["schema"] else { return ["\(method) is not documented"] }
        var problems: [String] = []
        validate(value, against: schema, at: "result", problems: &problems)
        return problems
    }

    private func resolve(_ node: JSONValue) -> JSONValue {
        guard let reference = node["$ref"]?.stringValue else { return node }
        if reference == "grant.schema.json" { return grantSchema }
        if reference.hasPrefix("#/definitions/") {
            return grantSchema["definitions"]?[String(reference.dropFirst("#/definitions/".count))] ?? .object([:])
        }
        var current = document
        for part in reference.dropFirst(2).split(separator: "/") { current = current[String(part)] ?? .null }
        return current
    }

    private func validate(_ value: JSONValue, against rawSchema: JSONValue, at path: String, problems: inout [String]) {
        let schema = resolve(rawSchema)
        if case .array(let allowed)? = schema["enum"], !allowed.contains(value) {
            problems.append("\(path): \(value.jsonText()) is not one of the allowed values")
        }
        switch (schema["type"]?.stringValue, value) {
        case (nil, _), ("string", .string), ("boolean", .bool), ("integer", .int), ("number", .int), ("number", .double):
            break
        case ("array", .array(let items)):
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() {
                    validate(item, against: itemSchema, at: "\(path)[\(index)]", problems: &problems)
                }
            }
        case ("object", .object(let fields)):
            if case .array(let required)? = schema["required"] {
                for key in required.compactMap(\.stringValue) where fields[key] == nil {
                    problems.append("\(path).\(key) is required")
                }
            }
            let properties: [String: JSONValue]
            if case .object(let declared)? = schema["properties"] { properties = declared } else { properties = [:] }
            for (key, field) in fields {
                if let fieldSchema = properties[key] {
                    validate(field, against: fieldSchema, at: "\(path).\(key)", problems: &problems)
                } else if schema["additionalProperties"] == .bool(false) {
                    problems.append("\(path).\(key) is not in the contract")
                }
            }
        default:
            problems.append("\(path): \(value.jsonText()) is not of type \(schema["type"]?.stringValue ?? "?")")
        }
    }
}
