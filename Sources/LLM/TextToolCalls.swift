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

    /// The text inside one Markdown code fence (```` ```json ```` or bare) that is the whole
    /// text, or the text as it is.
    /// - Parameter text: a model's reply.
    public static func withoutFence(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("```"), trimmed.hasSuffix("```"), trimmed.count >= 6, let lineEnd = trimmed.firstIndex(of: "\n") else { return text }
        let language = trimmed[trimmed.index(trimmed.startIndex, offsetBy: 3)..<lineEnd].trimmingCharacters(in: .whitespaces).lowercased()
        let body = trimmed[trimmed.index(after: lineEnd)...].dropLast(3)
        guard ["", "json"].contains(language), !body.contains("```") else { return text }
        return String(body)
    }

    /// The JSON values the text consists of, by shape. Results the model imagined after
    /// its calls (`<tool_response>…</tool_response>`, as the chat template shows real ones)
    /// are not part of the call and are dropped; the agent supplies the real results.
    /// So are empty tag pairs before the calls (`<tools></tools>`) and a stray closing
    /// fence after bare JSON.
    private static func callObjects(in text: String) -> ([ExactJSON], Shape)? {
        var text = withoutEmptyTags(withoutImaginedResults(text))
        if let tag = leadingTag(of: text) {
            return pieces(of: text, open: "<\(tag)>", close: "</\(tag)>", lastCloseOptional: true).map { ($0.values, .tags) }
        }
        if text.hasPrefix("```") {
            return fencedPieces(of: text).map { ($0.values, .fenced) }
        }
        if text.hasSuffix("\n```") { text = String(text.dropLast(3)).trimmingCharacters(in: .whitespacesAndNewlines) }
        return jsonSequence(text).map { ($0.values, $0.doubled ? .doubledBraces : .json) }
    }

    /// The text before a trailing run of `<tool_response>` blocks that follows something
    /// else, or the text. (A text that is one `<tool_response>` block is read as a tag like any other.)
    private static func withoutImaginedResults(_ text: String) -> String {
        guard let start = text.range(of: "<tool_response>"), start.lowerBound > text.startIndex else { return text }
        var rest = text[start.lowerBound...]
        while rest.hasPrefix("<tool_response>") {
            guard let end = rest.range(of: "</tool_response>") else { return text }
            rest = rest[end.upperBound...].drop(while: { $0.isWhitespace })
        }
        return rest.isEmpty ? String(text[..<start.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines) : text
    }

    /// The text after leading empty tag pairs (`<tools></tools>`: the chat template's
    /// section, echoed empty).
    private static func withoutEmptyTags(_ text: String) -> String {
        var rest = Substring(text)
        while let tag = leadingTag(of: String(rest)), rest.dropFirst(tag.count + 2).hasPrefix("</\(tag)>") {
            rest = rest.dropFirst(2 * tag.count + 5).drop(while: { $0.isWhitespace })
        }
        return String(rest)
    }

    /// `tool_call` in `<tool_call>…`: a tag of lowercase letters and `_` that opens the text
    /// (Qwen and Hermes write `<tool_call>`; Qwen2.5-Coder-1.5B also wrote `<response>`
    /// and `<tool_response>`).
    private static func leadingTag(of text: String) -> String? {
        guard text.hasPrefix("<"), let close = text.firstIndex(of: ">") else { return nil }
        let name = text[text.index(after: text.startIndex)..<close]
        guard (1...32).contains(name.count), name.allSatisfy({ ($0.isASCII && $0.isLowercase) || $0 == "_" }) else { return nil }
        return String(name)
    }

    /// `<open>json</close>` repeated, with only whitespace between; the model may stop
    /// before writing the last closing tag.
    private static func pieces(of text: String, open: String, close: String, lastCloseOptional: Bool) -> (values: [ExactJSON], doubled: Bool)? {
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
            values += found.values
        }
        return (values, false)
    }

    /// One or more fences (```` ```json ````, ```` ```tool_call ```` or bare), only whitespace between.
    private static func fencedPieces(of text: String) -> (values: [ExactJSON], doubled: Bool)? {
        var values: [ExactJSON] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            guard rest.hasPrefix("```"), let lineEnd = rest.firstIndex(of: "\n") else { return nil }
            let language = rest[rest.index(rest.startIndex, offsetBy: 3)..<lineEnd].trimmingCharacters(in: .whitespaces).lowercased()
            guard ["", "json", "tool_call", "tool_code"].contains(language) else { return nil }
            rest = rest[rest.index(after: lineEnd)...]
            guard let end = rest.range(of: "```") else { return nil }
            guard let found = jsonSequence(String(rest[..<end.lowerBound])) else { return nil }
            values += found.values
            rest = rest[end.upperBound...].drop(while: { $0.isWhitespace })
        }
        return (values, false)
    }

    /// One JSON value, or several written one after another (newline-separated objects,
    /// as some models emit parallel calls), flattened from lists. An object may come
    /// inside a doubled opening brace followed by closing braces only (`{{"name": …}}}`,
    /// sometimes with one brace too many): Qwen2.5-Coder-1.5B's most frequent slip.
    private static func jsonSequence(_ text: String) -> (values: [ExactJSON], doubled: Bool)? {
        let bytes = Array(text.utf8)
        let whitespace: [UInt8] = [0x20, 0x09, 0x0A, 0x0D]
        let brace = UInt8(ascii: "{"), closing = UInt8(ascii: "}")
        var offset = 0
        var values: [ExactJSON] = []
        var doubled = false
        while true {
            while offset < bytes.count, whitespace.contains(bytes[offset]) { offset += 1 }
            if offset == bytes.count { break }
            guard [brace, UInt8(ascii: "[")].contains(bytes[offset]) else { return nil }
            if offset + 1 < bytes.count, bytes[offset] == brace, bytes[offset + 1] == brace {
                guard let (value, end) = ExactJSON.prefix(of: bytes, at: offset + 1), case .object = value,
                      end < bytes.count, bytes[end] == closing
                else { return nil }
                offset = end
                while offset < bytes.count, bytes[offset] == closing { offset += 1 }
                values.append(value)
                doubled = true
                continue
            }
            guard let (value, end) = ExactJSON.prefix(of: bytes, at: offset) else { return nil }
            values += flatten(value)
            offset = end
        }
        return values.isEmpty ? nil : (values, doubled)
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
        case let value?: arguments = unwrappingSchemaShape(value).jsonText
        }
        return ToolCall(id: id, name: name, arguments: arguments)
    }

    /// JSON Schema's own words, which never name a tool's argument here.
    static let schemaKeywords: Set = ["properties", "type", "required", "additionalProperties"]

    /// Arguments written in the shape of their schema, `{"properties": {"amount": "50.00"}}`
    /// (Qwen2.5-Coder-1.5B copies the tool's parameters block), are the object inside
    /// `properties`; any other arguments are left as written.
    private static func unwrappingSchemaShape(_ arguments: ExactJSON) -> ExactJSON {
        guard case .object(let members) = arguments, let inner = arguments["properties"], case .object = inner,
              members.allSatisfy({ schemaKeywords.contains($0.key) })
        else { return arguments }
        return inner
    }
}
