import Foundation
import RPC
import RPCTesting

/// `Protocols/approval.openrpc.json` merged with the common contract exactly as
/// the service serves it, with `grant.schema.json` for the `$ref`s into it.
enum Contract {
    static let shared: ServedContract = {
        let protocols = repositoryRoot.appendingPathComponent("Protocols")
        func bytes(_ name: String) -> [UInt8] {
            Array((try? Data(contentsOf: protocols.appendingPathComponent(name))) ?? Data("{}".utf8))
        }
        let document = (try? RPCServiceDescription(name: "approval", openRPC: bytes("approval.openrpc.json")).document) ?? .object([:])
        let grant = (try? JSONValue(parsing: String(decoding: bytes("grant.schema.json"), as: UTF8.self))) ?? .object([:])
        return ServedContract(document: document, externalSchemas: ["grant.schema.json": grant])
    }()
}

extension ServedContract {
    /// Problems with `value` as the result of `method` (empty: it conforms).
    func validateResult(of method: String, _ value: JSONValue) -> [String] {
        resultProblems(method, value)
    }
}
