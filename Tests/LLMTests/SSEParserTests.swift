import Foundation
import LLM
import Testing

struct SSEParserTests {
    static let stream = "event: a\ndata: one\n\n: comment\ndata: two\ndata: lines\nid: 7\n\r\nevent: b\r\ndata:no-space\r\n\r\ndata\n\nevent: empty\n\n"
    static let expected = [
        SSEEvent(event: "a", data: "one"),
        SSEEvent(data: "two\nlines", id: "7"),
        SSEEvent(event: "b", data: "no-space", id: "7"),
        SSEEvent(data: "", id: "7"),
    ]

    @Test func wholeStream() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array(Self.stream.utf8)) == Self.expected)
        #expect(parser.finish() == nil)
    }

    @Test(arguments: [1, 2, 3, 5, 7, 13])
    func anyChunkingGivesTheSameEvents(size: Int) throws {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        let bytes = Array(Self.stream.utf8)
        for start in stride(from: 0, to: bytes.count, by: size) {
            events += try parser.feed(bytes[start..<min(start + size, bytes.count)])
        }
        #expect(events == Self.expected)
    }

    @Test func aLoneCarriageReturnEndsALine() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: x\r\rdata: y\r\r".utf8)) == [SSEEvent(data: "x"), SSEEvent(data: "y")])
    }

    @Test func anUnterminatedLastEventIsDelivered() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: [DONE]".utf8)).isEmpty)
        #expect(parser.finish() == SSEEvent(data: "[DONE]"))
    }
}
