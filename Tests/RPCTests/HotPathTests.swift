import Testing
@testable import RPC

/// The per-call helpers rewritten for speed keep their exact outputs.
struct HotPathTests {
    @Test func hexIsLowercaseTwoDigitsPerByte() {
        #expect(Hex.encode([UInt8]()) == "")
        #expect(Hex.encode([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
    }

    @Test func tokenDigestIsHexSHA256() {
        #expect(IdentityRegistry.digest(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func traceparentParses() throws {
        let trace = try #require(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.spanID == "00f067aa0ba902b7")
        #expect(trace.flags == "01")
        #expect(trace.description == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    }

    @Test(arguments: [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  // no flags
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // unknown version
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",  // dash moved
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // trailing part
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",  // not hex
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é",  // not ASCII
    ])
    func malformedTraceparentIsRejected(_ text: String) {
        #expect(TraceContext(traceparent: text) == nil)
    }

    @Test func randomTracesAreWellFormedAndDistinct() throws {
        let first = TraceContext.random()
        let parsed = try #require(TraceContext(traceparent: first.description))
        #expect(parsed == first)
        let child = first.child()
        #expect(child.traceID == first.traceID)
        #expect(child.spanID != first.spanID)
        #expect(TraceContext(traceparent: child.description) == child)
        #expect(TraceContext.random().traceID != first.traceID)
    }
}
