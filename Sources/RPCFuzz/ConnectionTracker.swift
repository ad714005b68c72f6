import Foundation
import RPC
import Synchronization

/// The books of one fuzz connection: what was sent and must be answered, and
/// every line that came back, checked as it arrives.
final class ConnectionTracker: Sendable {
    struct Batch {
        let ids: Set<IDKey>
        let nulls: Int
        let line: Int
    }

    struct State {
        /// Requests still waiting for their response: id → (line number, preview).
        var awaiting: [IDKey: (line: Int, preview: String)] = [:]
        /// Batches waiting for their array, by their first id.
        var batches: [IDKey: Batch] = [:]
        var batchOf: [IDKey: IDKey] = [:]
        /// Batches whose entries are all answered with id null.
        var nullBatches = 0
        var nullExpected = 0
        var nullReceived = 0
        var loose = 0
        var unmatched: [String] = []
        var tally = FuzzTally()
        var closed = false
        /// Set when the service is expected to close the connection (after an oversize line).
        var closeExpected = false
        /// The error reasons seen with id null, for the oversize check.
        var nullReasons: [String] = []
    }

    let service: String
    let label: String
    let state = Mutex(State())

    init(service: String, label: String) {
        self.service = service
        self.label = label
    }

    /// Records what a line sent as line number `line` must get back.
    func expect(_ expectation: ExpectedAnswer, line: Int, bytes: [UInt8]) {
        state.withLock { state in
            switch expectation {
            case .reply(let key):
                if state.awaiting[key] != nil || state.batchOf[key] != nil {
                    state.loose += 1  // an id reused on this connection: the answer cannot be told apart
                } else {
                    state.awaiting[key] = (line, Self.preview(bytes))
                }
            case .batch(let ids, let nulls):
                if let first = ids.first {
                    state.batches[first] = Batch(ids: Set(ids), nulls: nulls, line: line)
                    for id in ids { state.batchOf[id] = first }
                } else {
                    state.nullBatches += 1
                }
            case .nullError: state.nullExpected += 1
            case .loose: state.loose += 1
            case .none: break
            }
        }
    }

    /// Requests and batches not yet answered.
    var outstanding: Int { state.withLock { $0.awaiting.count + $0.batches.count } }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Checks one line the service wrote.
    func receive(_ bytes: [UInt8]) {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            if let path = ProcessInfo.processInfo.environment["RPC_FUZZ_DUMP"] { try? Data(bytes).write(to: URL(fileURLWithPath: path)) }
            state.withLock { $0.tally.violation("\(label): the service wrote a line that does not parse (\(error)): \(Self.preview(bytes))") }
            return
        }
        state.withLock { state in
            if case .array(let elements) = value {
                receiveBatch(elements, bytes, &state)
            } else if value["method"] != nil {
                state.tally.events += 1
                for problem in WireCheck.problems(event: value, service: service) {
                    state.tally.violation("\(label): \(problem): \(Self.preview(bytes))")
                }
            } else {
                state.tally.responses += 1
                count(value, bytes, &state)
                guard let raw = RawJSON.member("id", in: bytes) else { return }
                switch IDKey.read(raw) {
                case .exact(let key):
                    if state.awaiting.removeValue(forKey: key) == nil { state.unmatched.append(Self.preview(bytes)) }
                case .null:
                    state.nullReceived += 1
                    if let reason = value["error"]?["data"]?["reason"]?.stringValue { state.nullReasons.append(reason) }
                case .inexact, .invalid:
                    state.unmatched.append(Self.preview(bytes))
                }
            }
        }
    }

    private func receiveBatch(_ elements: [JSONValue], _ bytes: [UInt8], _ state: inout State) {
        state.tally.responses += 1
        guard !elements.isEmpty else {
            state.tally.violation("\(label): an empty array was written (an all-notification batch gets no response at all)")
            return
        }
        var ids: [IDKey] = []
        var nulls = 0
        var inexact = false
        for (element, raw) in zip(elements, RawJSON.elements(of: bytes) ?? []) {
            count(element, raw, &state)
            switch RawJSON.member("id", in: raw).map(IDKey.read) {
            case .exact(let key)?: ids.append(key)
            case .null?: nulls += 1
            default: inexact = true
            }
        }
        if let first = ids.first, let owner = state.batchOf[first], let batch = state.batches[owner] {
            state.batches[owner] = nil
            for id in batch.ids { state.batchOf[id] = nil }
            if Set(ids) != batch.ids || ids.count != batch.ids.count || nulls != batch.nulls || inexact {
                state.tally.violation(
                    "\(label): the batch of line \(batch.line) expected ids \(batch.ids.map(\.description).sorted()) and \(batch.nulls) null ids; got \(Self.preview(bytes))")
            }
        } else if ids.isEmpty, !inexact, state.nullBatches > 0 {
            state.nullBatches -= 1
        } else {
            state.unmatched.append(Self.preview(bytes))
        }
    }

    /// Checks a response's shape and counts it.
    private func count(_ response: JSONValue, _ bytes: [UInt8], _ state: inout State) {
        for problem in WireCheck.problems(response: response) {
            state.tally.violation("\(label): \(problem): \(Self.preview(bytes))")
        }
        if response["result"] != nil {
            state.tally.results += 1
        } else {
            state.tally.errorsByStatus[response["error"]?["data"]?["status"]?.stringValue ?? "?", default: 0] += 1
        }
    }

    func closedByPeer() {
        state.withLock { state in
            state.closed = true
        }
    }

    /// The final checks, once the connection is done: every request answered,
    /// at least one id-null error per line that was not JSON, no answers to
    /// nothing. Returns the tally.
    func finish() -> FuzzTally {
        state.withLock { state in
            var tally = state.tally
            for (key, pending) in state.awaiting.sorted(by: { $0.value.line < $1.value.line }).prefix(10) {
                tally.violation("\(label): no response to line \(pending.line) (id \(key)): \(pending.preview)")
            }
            for (_, batch) in state.batches.sorted(by: { $0.value.line < $1.value.line }).prefix(10) {
                tally.violation("\(label): no response to the batch of line \(batch.line)")
            }
            if state.awaiting.count > 10 { tally.violation("\(label): … and \(state.awaiting.count - 10) more requests unanswered") }
            if state.nullReceived < state.nullExpected {
                tally.violation("\(label): \(state.nullExpected) lines needed an error with id null (not JSON or not a request); only \(state.nullReceived) came")
            }
            if state.unmatched.count > state.loose {
                tally.violation(
                    "\(label): \(state.unmatched.count) responses answer no request sent (\(state.loose) lines could have); first: \(state.unmatched.first ?? "")")
            }
            return tally
        }
    }

    static func preview(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(240), as: UTF8.self)
        return bytes.count > 240 ? text + "… (\(bytes.count) bytes)" : text
    }
}
