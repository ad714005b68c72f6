import Foundation

/// Tool calls that a model wrote as text instead of as `tool_calls`.
///
/// Small local models served by Chat Completions servers often answer a request
/// for tools with the call in their content: `{"name": "deposit_money",
/// "arguments": {"amount": "200.00"}}`, the same inside a ```` ```json ```` fence,
/// a list of such objects, or Qwen/Hermes `<tool_call>…</tool_call>` tags. Taken
/// as an answer, the user is shown JSON and nothing happens. Recovered, the call
/// goes through exactly the validation a native call does (the agent refuses an
/// unknown tool or bad arguments with an error result to the model). The shapes
/// are the ones Qwen2.5-Coder-1.5B wrote on llama-server (Tests/Fixtures/models).
///
/// Only a reply that *is* a call is recovered: the whole text, apart from
/// whitespace, fences and tags, must be one call object or a list of them. A
/// sentence that mentions a tool, or shows a call in the middle of prose, stays text.
public enum TextToolCalls {
    /// How the call was written, for the log line that reports a recovery.
    public enum Shape: String, Sendable, Equatable {
        /// A bare JSON object, or a list of them.
        case json
        /// The JSON inside one or more Markdown code fences.
        case fenced
        /// `<tool_call>{…}</tool_call>`, once or more (Qwen, Hermes), or another tag around only calls.
        case tags
        /// `{{…}}`: the object with its braces doubled (a template's escaping, seen from Qwen2.5-Coder).
        case doubledBraces = "doubled_braces"
    }

    /// The longest reply examined: a call is a few hundred bytes; an essay is not a call.
    public static let maximumTextBytes = 16 * 1024
    /// The most calls taken from one reply, like a turn of native calls.
    public static let maximumCalls = 16

    /// The calls a reply's text consists of, or nil when it is not (only) calls.
    /// - Parameters:
    ///   - text: the model's content.
    ///   - idPrefix: call ids are `<idPrefix>_<n>`, n from 1; the caller makes the prefix unique within the run.
    /// - Returns: the calls, in order, and the shape they were written in.
    public static func recover(from text: String, idPrefix: String) -> (calls: [ToolCall], shape: Shape)? {
        guard text.utf8.count <= maximumTextBytes else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let (objects, shape) = callObjects(in: trimmed), !objects.isEmpty, objects.count <= maximumCalls else { return nil }
        var calls: [ToolCall] = []
        for (index, object) in objects.enumerated() {
            guard let call = toolCall(object, id: "\(idPrefix)_\(index + 1)") else { return nil }
            calls.append(call)
        }
        return (calls, shape)
    }

    /// The JSON values the text consists of, by shape. Results the model imagined after
    /// its calls (`<tool_response>…</tool_response>`, as the chat template shows real ones)
    /// are not part of the call and are dropped; the agent supplies the real results.
    private static func callObjects(in text: String) -> ([ExactJSON], Shape)? {
        let text = withoutImaginedResults(text)
        if let tag = leadingTag(of: text) {
            return pieces(of: text, open: "<\(tag)>", close: "</\(tag)>", lastCloseOptional: true).map { ($0, .tags) }
        }
        if text.hasPrefix("```") {
            return fencedPieces(of: text).map { ($0, .fenced) }
        }
        if let values = jsonSequence(text) { return (values, .json) }
        return doubledBraces(text).map { ($0, .doubledBraces) }
    }

    /// The text before a trailing run of `<tool_response>` blocks, or the text.
    private static func withoutImaginedResults(_ text: String) -> String {
        guard let start = text.range(of: "<tool_response>") else { return text }
        var rest = text[start.lowerBound...]
        while rest.hasPrefix("<tool_response>") {
            guard let end = rest.range(of: "</tool_response>") else { return text }
            rest = rest[end.upperBound...].drop(while: { $0.isWhitespace })
        }
        return rest.isEmpty ? String(text[..<start.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines) : text
    }

    /// `tool_call` in `<tool_call>…`: a tag of lowercase letters and `_` that opens the text
    /// (Qwen and Hermes write `<tool_call>`; Qwen2.5-Coder-1.5B also wrote `<response>`).
    private static func leadingTag(of text: String) -> String? {
        guard text.hasPrefix("<"), let close = text.firstIndex(of: ">") else { return nil }
        let name = text[text.index(after: text.startIndex)..<close]
        guard (1...32).contains(name.count), name.allSatisfy({ ($0.isASCII && $0.isLowercase) || $0 == "_" }) else { return nil }
        return String(name)
    }

    /// `{{"name": …, "arguments": {…}}}`: one object inside a doubled opening brace, then
    /// only closing braces (Qwen2.5-Coder-1.5B writes two, and sometimes three, extra).
    private static func doubledBraces(_ text: String) -> [ExactJSON]? {
        guard text.hasPrefix("{{") else { return nil }
        let bytes = Array(text.utf8)
        guard let (value, end) = ExactJSON.prefix(of: bytes, at: 1), case .object = value else { return nil }
        let rest = bytes[end...].filter { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        guard !rest.isEmpty, rest.allSatisfy({ $0 == UInt8(ascii: "}") }) else { return nil }
        return [value]
    }

    /// `<open>json</close>` repeated, with only whitespace between; the model may stop
    /// before writing the last closing tag.
    private static func pieces(of text: String, open: String, close: String, lastCloseOptional: Bool) -> [ExactJSON]? {
        var values: [ExactJSON] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            guard rest.hasPrefix(open) else { return nil }
            rest = rest.dropFirst(open.count)
            let body: Substring
            if let end = rest.range(of: close) {
                body = rest[..<end.lowerBound]
                rest = rest[end.upperBound...].drop(while: { $0.isWhitespace })
            } else if lastCloseOptional {
                body = rest
                rest = ""
            } else {
                return nil
            }
            guard let found = jsonSequence(String(body)) else { return nil }
            values += found
        }
        return values
    }

    /// One or more fences (```` ```json ````, ```` ```tool_call ```` or bare), only whitespace between.
    private static func fencedPieces(of text: String) -> [ExactJSON]? {
        var values: [ExactJSON] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            guard rest.hasPrefix("```"), let lineEnd = rest.firstIndex(of: "\n") else { return nil }
            let language = rest[rest.index(rest.startIndex, offsetBy: 3)..<lineEnd].trimmingCharacters(in: .whitespaces).lowercased()
            guard ["", "json", "tool_call", "tool_code"].contains(language) else { return nil }
            rest = rest[rest.index(after: lineEnd)...]
            guard let end = rest.range(of: "```") else { return nil }
            guard let found = jsonSequence(String(rest[..<end.lowerBound])) else { return nil }
            values += found
            rest = rest[end.upperBound...].drop(while: { $0.isWhitespace })
        }
        return values
    }

    /// One JSON value, or several written one after another (newline-separated
    /// objects, as some models emit parallel calls), flattened from lists.
    private static func jsonSequence(_ text: String) -> [ExactJSON]? {
        let bytes = Array(text.utf8)
        var offset = 0
        var values: [ExactJSON] = []
        while true {
            while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
            if offset == bytes.count { break }
            guard [UInt8(ascii: "{"), UInt8(ascii: "[")].contains(bytes[offset]),
                  let (value, end) = ExactJSON.prefix(of: bytes, at: offset)
            else { return nil }
            values += flatten(value)
            offset = end
        }
        return values.isEmpty ? nil : values
    }

    private static func flatten(_ value: ExactJSON) -> [ExactJSON] {
        if case .array(let elements) = value { return elements }
        return [value]
    }

    /// `{"name": "…", "arguments": {…}}` (or `"parameters"`, as Llama writes it);
    /// arguments may also be a string of JSON, as in the OpenAI wire format.
    private static func toolCall(_ object: ExactJSON, id: String) -> ToolCall? {
        guard case .object(let members) = object, let name = object["name"]?.stringValue, !name.isEmpty,
              members.allSatisfy({ ["name", "arguments", "parameters", "id", "type"].contains($0.key) })
        else { return nil }
        let arguments: String
        switch object["arguments"] ?? object["parameters"] {
        case nil, .null?: arguments = "{}"
        case .string(let text)?: arguments = text
        case let value?: arguments = value.jsonText
        }
        return ToolCall(id: id, name: name, arguments: arguments)
    }
}
