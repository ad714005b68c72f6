import ArgumentParser
import Foundation
import RPC

/// `hitl call SERVICE METHOD [JSON]`
struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call one method of a service and print its result.",
        discussion: """
            Params are a JSON object, given as an argument, or on standard input when the \
            argument is omitted or '-'. Your token (--as, default operator) is added to \
            params._meta for you.

            Examples:
              hitl call echo echo.add '{"a": 2, "b": 3}'
              hitl call echo echo.stream '{"count": 3}' --stream
              echo '{"value": [1, 2]}' | hitl call echo echo.echo --json
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The service's short name, e.g. ledger or approval.")
    var service: String

    @Argument(help: "The method, e.g. ledger.balance.")
    var method: String

    @Argument(help: "Params as a JSON object ('-' or omitted: read standard input).")
    var params: String?

    @Flag(help: "The method streams: print each event (one JSON line) before the result.")
    var stream = false

    func run() async throws {
        try await KnownServices.check(service, global)
        let parameters = try readParams()
        let client = try global.client(for: service)
        defer { Task { await client.close() } }
        do {
            let result: JSONValue
            if stream {
                let json = global.json
                result = try await client.stream(
                    method, parameters, event: JSONValue.self, as: JSONValue.self,
                    options: global.callOptions
                ) { event in
                    Output.out(json ? event.jsonText() : "event: \(event.jsonText())")
                }
            } else {
                result = try await client.call(method, parameters, as: JSONValue.self, options: global.callOptions)
            }
            Output.out(result.jsonText(pretty: !global.json))
        } catch let error as RPCError {
            throw Output.report(error, json: global.json)
        }
    }

    private func readParams() throws -> JSONValue {
        var text = params
        if text == nil || text == "-" {
            if text == nil, isatty(STDIN_FILENO) == 1 { return .object([:]) }
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        let trimmed = (text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .object([:]) }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: trimmed)
        } catch {
            throw ValidationError("params are not valid JSON: \(trimmed.prefix(80))")
        }
        guard case .object = value else { throw ValidationError("params must be a JSON object, like '{\"account\": \"checking\"}'") }
        return value
    }
}
