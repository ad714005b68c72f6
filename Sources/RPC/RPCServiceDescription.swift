import Foundation

/// A service's name, version and OpenRPC contract, as served by `rpc.discover`.
public struct RPCServiceDescription: Sendable {
    /// The short name: sockets are `<name>.sock`, events `<name>.event`.
    public let name: String
    /// The version reported by `health.check` and the contract's `info.version`.
    public let version: String
    /// The whole contract: the service's own document merged with what every service shares.
    public let document: JSONValue

    /// Builds a description from the service's own OpenRPC document.
    /// - Parameters:
    ///   - name: the short name.
    ///   - version: the version.
    ///   - openRPC: the bytes of `Protocols/<name>.openrpc.json`.
    /// - Throws: when the document is not JSON.
    public init(name: String, version: String = RPCVersion.current, openRPC: [UInt8]) throws {
        self.name = name
        self.version = version
        let own = try JSONDecoder().decode(JSONValue.self, from: Data(openRPC))
        let common = try JSONDecoder().decode(JSONValue.self, from: Data(PackageResources.common_openrpc_json))
        self.document = OpenRPCMerge.merge(own, common, version: version)
    }

    /// The method names the contract documents, sorted.
    public var documentedMethods: [String] {
        guard case .array(let methods)? = document["methods"] else { return [] }
        return methods.compactMap { $0["name"]?.stringValue }.sorted()
    }
}

/// The project's version, reported by every service.
public enum RPCVersion {
    /// Semantic version of the protocol and services.
    public static let current = "0.1.0"
}

/// Merges the shared contract (`Protocols/common.openrpc.json`: health, rpc,
/// the error object, `_meta`) into a service's own document.
enum OpenRPCMerge {
    static func merge(_ own: JSONValue, _ common: JSONValue, version: String) -> JSONValue {
        guard case .object(var document) = own else { return own }
        if case .array(let ownMethods)? = document["methods"], case .array(let shared)? = common["methods"] {
            document["methods"] = .array(shared + ownMethods)
        }
        if case .object(var info)? = document["info"] {
            info["version"] = .string(version)
            document["info"] = .object(info)
        }
        var components: [String: JSONValue] = [:]
        if case .object(let existing)? = document["components"] { components = existing }
        if case .object(let sharedComponents)? = common["components"] {
            for (section, value) in sharedComponents {
                guard case .object(let sharedEntries) = value else { continue }
                var entries: [String: JSONValue] = [:]
                if case .object(let ownEntries)? = components[section] { entries = ownEntries }
                for (key, entry) in sharedEntries where entries[key] == nil { entries[key] = entry }
                components[section] = .object(entries)
            }
        }
        document["components"] = .object(components)
        return .object(document)
    }
}
