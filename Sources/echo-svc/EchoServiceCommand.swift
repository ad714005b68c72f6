import ArgumentParser
import EchoService
import ServiceKit

@main
struct EchoServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-svc",
        abstract: "The RPC core's test service: echo, add, sleep, stream, fail, whoami.",
        discussion: """
            Serves newline-delimited JSON-RPC 2.0 on <home>/run/echo.sock. It knows nothing \
            of banking; the conformance suite runs against it to prove the RPC core.

            Example:
              echo-svc --home .hitl &
              hitl call echo echo.echo '{"value": 42}'
            """)

    @OptionGroup var options: ServiceOptions

    static func main() { ServiceMain.main(Self.self) }

    func run() async throws {
        ServiceMain.bootstrapLogging(level: options.logLevel)
        try await ServiceMain.run(description: try EchoService.description(), options: options) { router in
            EchoService.register(&router)
        }
    }
}
