import Foundation
import RPC

/// A service's methods and their params, read from its OpenRPC contract
/// (`Protocols/<service>.openrpc.json`, as `rpc.discover` serves it merged with
/// `common.openrpc.json`).
struct ContractModel: Sendable {
    /// One documented method.
    struct Method: Sendable {
        let name: String
        let params: [Param]
        let streaming: Bool
        /// The roles `x-access` names; empty for public and authenticated methods.
        let roles: [String]

        /// Whether a call may run long without a deadline (streams, sleeps, the
        /// agent's LLM loop): such calls always carry a short `deadline_ms`.
        var mayBlock: Bool {
            streaming || ["echo.sleep", "echo.stream", "health.watch", "approval.watch"].contains(name) || name.hasPrefix("agent.")
        }
    }

    /// One named parameter and its schema (refs resolved on use).
    struct Param: Sendable {
        let name: String
        let schema: JSONValue
        let required: Bool
    }

    /// A place a wrong value can go: a param, or a property of an object param.
    struct Field: Sendable {
        let method: Method
        let path: [String]
    }

    let document: JSONValue
    let methods: [Method]
    /// Every field of every method, in a fixed order, for the wrong-type sweep.
    let fields: [Field]

    /// - Parameter document: the served contract.
    init(document: JSONValue) {
        self.document = document
        var methods: [Method] = []
        if case .array(let entries)? = document["methods"] {
            for entry in entries {
                guard let name = entry["name"]?.stringValue else { continue }
                var params: [Param] = []
                if case .array(let descriptors)? = entry["params"] {
                    for raw in descriptors {
                        let descriptor = Self.resolve(raw, in: document)
                        guard let paramName = descriptor["name"]?.stringValue, paramName != "_meta" else { continue }
                        params.append(Param(name: paramName, schema: descriptor["schema"] ?? .object([:]), required: descriptor["required"] == .bool(true)))
                    }
                }
                let access = entry["x-access"]?.stringValue ?? ""
                let roles = access.hasPrefix("roles:")
                    ? access.dropFirst("roles:".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : []
                methods.append(Method(name: name, params: params, streaming: entry["x-streaming"] == .bool(true), roles: roles))
            }
        }
        self.methods = methods.sorted { $0.name < $1.name }
        var fields: [Field] = []
        for method in self.methods {
            for param in method.params {
                fields.append(Field(method: method, path: [param.name]))
                if case .object(let properties)? = Self.resolve(param.schema, in: document)["properties"] {
                    for name in properties.keys.sorted() { fields.append(Field(method: method, path: [param.name, name])) }
                }
            }
        }
        self.fields = fields
    }

    /// Follows local `$ref`s (`#/components/...`); an external ref (another file)
    /// resolves to an empty schema: any value.
    static func resolve(_ value: JSONValue, in document: JSONValue) -> JSONValue {
        var current = value
        for _ in 0..<16 {  // a ref chain longer than this is a loop
            guard let reference = current["$ref"]?.stringValue else { return current }
            guard reference.hasPrefix("#/") else { return .object([:]) }
            var node: JSONValue? = document
            for part in reference.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
            guard let node else { return .object([:]) }
            current = node
        }
        return .object([:])
    }

    func resolve(_ value: JSONValue) -> JSONValue { Self.resolve(value, in: document) }
}
