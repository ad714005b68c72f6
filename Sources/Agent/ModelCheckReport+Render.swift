import LLM

extension ModelCheckReport {
    /// The report for people: a table, the recommendation, the environment to set.
    public func rendered() -> String {
        let asked = depth == .full ? "the seed's three requests" : "the seed's first request"
        let endpoint = isStackSimulator ? "the stack's simulator (a rule-based stand-in, not a language model)" : "\(baseURL), model \(model)"
        var lines = ["hitl model check of \(endpoint): \(asked), one model turn each", ""]
        let columns = apis.map { "\($0.api.rawValue) (/\($0.api == .chat ? "chat/completions" : "responses"))" }
        let rows: [(String, [String])] = [
            ("serves the API", apis.map(\.servedText)),
            ("tool calls", apis.map(\.toolsText)),
            ("  right call and arguments", apis.map(\.correctCallsText)),
            ("json_schema (ActionPlan)", apis.map(\.plansText)),
            ("streams (SSE)", apis.map(\.streamsText)),
        ]
        let first = max(rows.map(\.0.count).max() ?? 0, 26) + 2
        let width = max((apis.flatMap { [$0.servedText, $0.toolsText, $0.correctCallsText, $0.plansText, $0.streamsText] } + columns).map(\.count).max() ?? 0, 20) + 2
        func line(_ label: String, _ cells: [String]) -> String {
            (label.padding(toLength: first, withPad: " ", startingAt: 0) + cells.map { $0.padding(toLength: width, withPad: " ", startingAt: 0) }.joined())
                .replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        lines.append(line("", columns))
        for (label, cells) in rows { lines.append(line(label, cells)) }
        lines.append("")
        lines += notes
        lines.append(recommendationText)
        if let environment { lines.append("  " + environment) }
        if isStackSimulator, recommendation != nil { lines.append("  (the stack's simulator needs no variables; with none set, the agent uses it)") }
        return lines.joined(separator: "\n")
    }

    /// What deserves a sentence of its own: an API that returns no tool calls or
    /// ignores the schema, and a better API than the configured one.
    public var notes: [String] {
        var notes: [String] = []
        for report in apis where report.served == true {
            let asked = report.tools.count
            if report.ignoresTools, report.api == .responses {
                notes.append("note: responses answers but ignores tools: no function_call in \(asked) of \(asked) replies"
                    + (report.textCalls > 0 ? " (the model wrote its calls as text \(report.textCalls) of \(asked) times; the agent runs such calls only on chat)." : "."))
            } else if report.ignoresTools {
                notes.append(report.textCalls > 0
                    ? "note: chat returns no tool_calls: the model writes its calls as text (\(report.textCalls) of \(asked)), which the agent recovers"
                        + (textToolCallsEnabled ? " (HITL_LLM_TEXT_TOOL_CALLS=0 turns that off)." : ", but HITL_LLM_TEXT_TOOL_CALLS=0 has turned that off.")
                    : "note: chat returns no tool calls: the model answered in prose \(asked) of \(asked) times.")
            }
            if report.ignoresSchema {
                notes.append("note: \(report.api.rawValue) answers but ignores the json_schema format: no reply had the ActionPlan's shape.")
            }
        }
        if let recommendation, recommendation.api != configuredAPI {
            notes.append("note: the agent is configured with HITL_LLM_API=\(configuredAPI.rawValue); this endpoint works better with \(recommendation.api.rawValue).")
        }
        return notes
    }

    /// The recommendation in one sentence.
    public var recommendationText: String {
        guard let recommendation else {
            let reasons = apis.compactMap { report in report.failure.map { "\(report.api.rawValue): \($0)" } }
            return "recommended: nothing; no API and mode got a single request right"
                + (reasons.isEmpty ? ". This model cannot drive the agent; try a larger or tool-trained model." : " (\(reasons.joined(separator: "; "))).")
        }
        return "recommended: HITL_LLM_API=\(recommendation.api.rawValue), mode \(recommendation.mode.rawValue) "
            + "(\(recommendation.correct) of \(recommendation.asked) right; hitl chat --mode \(recommendation.mode.rawValue) \"…\")"
    }

    /// One log line's fields per API, for agent-svc's start-up log.
    public func logFields(_ report: APIReport) -> [String: String] {
        ["api": report.api.rawValue, "served": report.servedText, "tool_calls": report.toolsText,
         "right_calls": report.correctCallsText, "json_schema": report.plansText, "streams": report.streamsText]
    }
}

extension ModelCheckReport.APIReport {
    var servedText: String {
        switch served {
        case true?: "yes"
        case false?: "no (\(failure ?? "no answer"))"
        case nil: "not checked"
        }
    }

    var toolsText: String {
        guard served == true else { return "-" }
        let failed = tools.filter { if case .failed = $0 { true } else { false } }.count
        var parts: [String] = []
        if nativeCalls > 0 { parts.append("\(nativeCalls)/\(tools.count) tool_calls") }
        if textCalls > 0 { parts.append("\(textCalls)/\(tools.count) as text" + (api == .chat ? " (recovered)" : " (not recovered)")) }
        let none = tools.count - nativeCalls - textCalls - failed
        if none > 0 { parts.append("\(none)/\(tools.count) no call") }
        if failed > 0 { parts.append("\(failed)/\(tools.count) failed") }
        return ignoresTools && textCalls == 0 ? "ignored (\(parts.joined(separator: ", ")))" : parts.joined(separator: ", ")
    }

    var correctCallsText: String {
        guard served == true else { return "-" }
        return "\(correctNative + (api == .chat ? correctText : 0))/\(tools.count)"
    }

    var plansText: String {
        guard served == true else { return "-" }
        if ignoresSchema { return "ignored (\(plans.count)/\(plans.count) not its shape)" }
        var text = "\(correctPlans)/\(plans.count) right"
        let wrong = validPlans - correctPlans
        if wrong > 0 { text += ", \(wrong) valid but wrong" }
        let invalid = plans.count - validPlans
        if invalid > 0 { text += ", \(invalid) invalid" }
        return text
    }

    var streamsText: String {
        switch streams {
        case .yes(let deltas)?: "yes (\(deltas) text deltas)"
        case .no(let reason)?: "no (\(reason.prefix(60)))"
        case nil: "-"
        }
    }
}
