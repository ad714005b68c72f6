import Testing

@testable import HitlCLI

/// `hitl model` is documentation people read before they point the agent at a model.
struct ModelCommandTests {
    @Test func everyModelCommandHasExamples() {
        let helps = [
            Hitl.helpMessage(for: Model.self, columns: 100), Hitl.helpMessage(for: ModelCheckCommand.self, columns: 100),
            Hitl.helpMessage(for: ModelEvalCommand.self, columns: 100),
        ]
        for help in helps { #expect(help.contains("Examples:"), "no examples in:\n\(help)") }
        let group = Hitl.helpMessage(for: Model.self, columns: 100)
        #expect(group.contains("check") && group.contains("eval"))
    }

    @Test func theGroupIsASubcommandPath() {
        #expect(Hitl.isSubcommandPath(["model", "check"]))
        #expect(Hitl.isSubcommandPath(["model", "eval"]))
        #expect(hoistingGlobalOptions(["--home", "/h", "model", "check", "--quick"]) == ["model", "check", "--home", "/h", "--quick"])
    }
}
