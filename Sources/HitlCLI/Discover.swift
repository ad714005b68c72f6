import ArgumentParser
import RPC

/// `hitl discover SERVICE`
struct Discover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a service's OpenRPC contract (rpc.discover).",
        discussion: """
            Examples:
              hitl discover ledger
              hitl discover ledger --methods      # just the method names
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The service's short name.")
    var service: String

    @Flag(help: "List only the method names and summaries.")
    var methods = false

    func run() async throws {
        try await KnownServices.check(service, global)
        let client = RPCClient(path: try global.locatedHome().socketPath(for: service))
        defer { Task { await client.close() } }
        let document: JSONValue
        do {
            document = try await client.call("rpc.discover", NoParams(), as: JSONValue.self, options: global.callOptions)
        } catch let error as RPCError {
            throw Output.report(error, json: global.json)
        }
        guard methods else {
            Output.out(document.jsonText(pretty: !global.json))
            return
        }
        guard case .array(let list)? = document["methods"] else { return }
        let rows = list.map { [$0["name"]?.stringValue ?? "?", $0["summary"]?.stringValue ?? ""] }
        Output.out(Table.render(header: ["METHOD", "SUMMARY"], rows: rows))
    }
}
