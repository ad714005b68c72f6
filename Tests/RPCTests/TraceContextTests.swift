import Testing
@testable import RPC

/// W3C `traceparent` parsing (version 00 only).
struct TraceContextTests {
    static let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    @Test func aValidHeaderIsParsed() throws {
        let trace = try #require(TraceContext(traceparent: Self.valid))
        #expect(trace.traceID == "0af7651916cd43dd8448eb211c80319c")
        #expect(trace.spanID == "b7ad6b7169203331")
        #expect(trace.flags == "01")
        #expect(trace.description == Self.valid)
    }

    @Test(arguments: [
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  // all-zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  // all-zero span id
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  // uppercase hex
        "00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0A",
        "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",  // trace id 31 digits
        "00-0af7651916cd43dd8448eb211c80319c0-b7ad6b7169203331-01",  // 33
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",  // span id 15
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033310-01",  // 17
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",  // flags 1 digit
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-001",
        "0-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // version 1 digit
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // an unknown version
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",  // three parts
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-0af7651916cd43dd8448eb211c8031zz-b7ad6b7169203331-01",  // not hex
        " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
        "",
    ])
    func malformedHeadersAreRejected(header: String) {
        #expect(TraceContext(traceparent: header) == nil)
    }

    @Test func aChildKeepsTheTraceAndStartsANewSpan() throws {
        let parent = try #require(TraceContext(traceparent: Self.valid))
        let child = parent.child()
        #expect(child.traceID == parent.traceID)
        #expect(child.flags == parent.flags)
        #expect(child.spanID != parent.spanID)
        #expect(TraceContext(traceparent: child.description) == child)
    }

    @Test func aRandomTraceIsValidAndNew() {
        let first = TraceContext.random()
        #expect(TraceContext(traceparent: first.description) == first)
        #expect(first.flags == "01")
        #expect(TraceContext.random().traceID != first.traceID)
    }
}
