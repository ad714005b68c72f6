import Banking
import Contracts
import Foundation
import Testing
import Wire

/// Holds the Swift contracts to `Protocols/*.openrpc.json`, the published truth, both
/// ways: a value with every field set encodes exactly the schema's properties (nothing
/// the schema does not name, nothing it names missing), and an object with only the
/// schema's required properties decodes (Swift requires nothing more than the schema).
struct ContractSchemaTests {
    static let protocols = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocols")

    static func document(_ service: String) throws -> JSONValue {
        let url = protocols.appendingPathComponent("\(service).openrpc.json")
        return try JSONValue(parsing: String(decoding: try Data(contentsOf: url), as: UTF8.self))
    }

    /// A component schema's properties and required names.
    static func schema(_ service: String, _ name: String) throws -> (properties: Set<String>, required: Set<String>) {
        let schema = try #require(try document(service)["components"]?["schemas"]?[name], "\(service) has no schema \(name)")
        guard case .object(let properties)? = schema["properties"] else { Issue.record("\(name) lists no properties"); return ([], []) }
        return (Set(properties.keys), Set((schema["required"]?.arrayValues ?? []).compactMap(\.stringValue)))
    }

    /// A method's by-name params and which are required.
    static func params(_ service: String, _ method: String) throws -> (properties: Set<String>, required: Set<String>) {
        let methods = try document(service)["methods"]?.arrayValues ?? []
        let entry = try #require(methods.first { $0["name"]?.stringValue == method }, "\(service) documents no \(method)")
        let list = entry["params"]?.arrayValues ?? []
        return (
            Set(list.compactMap { $0["name"]?.stringValue }),
            Set(list.filter { $0["required"] == .bool(true) }.compactMap { $0["name"]?.stringValue })
        )
    }

    /// Checks `full` (every optional set) against `shape`, both ways.
    static func check<T: Codable>(_ full: T, against shape: (properties: Set<String>, required: Set<String>), _ label: String) throws {
        guard case .object(let encoded) = try JSONValue(encoding: full) else { Issue.record("\(label) does not encode as an object"); return }
        let keys = Set(encoded.keys)
        #expect(keys.subtracting(shape.properties).isEmpty, "\(label): Swift sends what the contract does not name: \(keys.subtracting(shape.properties).sorted())")
        #expect(shape.properties.subtracting(keys).isEmpty, "\(label): the contract names what Swift does not send: \(shape.properties.subtracting(keys).sorted())")
        let minimal = JSONValue.object(encoded.filter { shape.required.contains($0.key) })
        #expect(throws: Never.self, "\(label): an object with only the contract's required members must decode") {
            _ = try minimal.decode(as: T.self)
        }
    }

    static let transfer = Action(kind: .transfer, from: "checking", to: "bob", amount: try! Amount(parsing: "500.00"), memo: "rent")
    static let lease = Lease(owner: "agent-svc:1:abc", expiresAt: "2026-12-07T12:00:00.000Z")

    @Test func agentResults() throws {
        let pending = PendingView(approvalID: "appr_1", callID: "call_1", action: Self.transfer, holdID: "hold_1")
        try Self.check(pending, against: try Self.schema("agent", "Pending"), "agent Pending")
        try Self.check(
            RunResult(runID: "run_1", status: "awaiting_approval", reply: "waiting", pending: [pending]),
            against: try Self.schema("agent", "RunResult"), "agent RunResult")
    }

    @Test func stateRecordsAndParams() throws {
        try Self.check(
            RunRecord(
                runID: "run_1", sessionID: "s_1", version: 2, status: "running", data: ["k": 1], createdAt: "t", updatedAt: "t",
                lease: Self.lease),
            against: try Self.schema("state", "RunRecord"), "state RunRecord")
        try Self.check(
            RunSummary(runID: "run_1", sessionID: "s_1", version: 2, status: "running", createdAt: "t", updatedAt: "t", lease: Self.lease),
            against: try Self.schema("state", "RunSummary"), "state RunSummary")
        try Self.check(Self.lease, against: try Self.schema("state", "Lease"), "state Lease")
        try Self.check(
            ClaimRunParams(runID: "run_1", owner: "o", leaseMs: 1000, expectedVersion: 1, expectedStatus: "awaiting_approval", renewOnly: true),
            against: try Self.params("state", "state.claim_run"), "state.claim_run params")
        try Self.check(
            SaveRunParams(
                runID: "run_1", expectedVersion: 1, status: "running", data: ["k": 1], owner: "o", events: [["type": "x"]], release: true),
            against: try Self.params("state", "state.save_run"), "state.save_run params")
        try Self.check(
            CreateRunParams(runID: "run_1", sessionID: "s_1", data: ["k": 1], events: [["type": "x"]]),
            against: try Self.params("state", "state.create_run"), "state.create_run params")
        try Self.check(
            AppendEventsParams(runID: "run_1", expectedVersion: 1, owner: "o", events: [["type": "x"]]),
            against: try Self.params("state", "state.append_events"), "state.append_events params")
        try Self.check(
            ListRunsParams(status: "running", sessionID: "s_1", cursor: "c", limit: 10),
            against: try Self.params("state", "state.list_runs"), "state.list_runs params")
        try Self.check(
            ReadEventsParams(runID: "run_1", afterSeq: 1, limit: 10, withRun: true, afterLast: EventMatch(type: "run_paused", field: "pending", anyOf: ["a"])),
            against: try Self.params("state", "state.watch_events"), "state.watch_events params")
        try Self.check(
            SetCursorParams(name: "n", value: 2, expected: 1), against: try Self.params("state", "state.set_cursor"), "state.set_cursor params")
    }

    @Test func ledgerResultsAndParams() throws {
        try Self.check(
            BalanceResult(account: "checking", displayName: "Checking", kind: "customer", currency: "USD", posted: "1.00", held: "0.00", available: "1.00"),
            against: try Self.schema("ledger", "Balance"), "ledger Balance")
        try Self.check(
            HoldResult(
                holdID: "hold_1", state: "posted", from: "checking", to: "bob", amount: "5.00", currency: "USD", memo: "m", idempotencyKey: "k",
                expiresAt: "t", createdAt: "t", entryID: 1, grantID: "g", voidReason: "r", resolvedAt: "t"),
            against: try Self.schema("ledger", "Hold"), "ledger Hold")
        try Self.check(
            EntryResult(
                entryID: 1, kind: "transfer", from: "checking", to: "bob", amount: "5.00", currency: "USD", memo: "m", idempotencyKey: "k",
                grantID: "g", createdAt: "t"),
            against: try Self.schema("ledger", "Entry"), "ledger Entry")
        try Self.check(
            HoldParams(from: "checking", to: "bob", amount: "5.00", currency: "USD", memo: "m", idempotencyKey: "k", expiresAt: "t"),
            against: try Self.params("ledger", "ledger.hold"), "ledger.hold params")
        try Self.check(VoidParams(holdID: "hold_1", reason: "r"), against: try Self.params("ledger", "ledger.void"), "ledger.void params")
    }

    @Test func approvalViewsAndParams() throws {
        let view = ApprovalView(
            approvalID: "appr_1", runID: "run_1", callID: "call_1", version: 1, status: .completed, action: Self.transfer,
            originalAction: Self.transfer, requestedBy: "operator", submittedBy: "agent", requiredApprovers: 1, approvedBy: ["approver1"],
            policyVersion: "v", policyRule: "r", policyFigures: ["amount": "500.00"], requesterMayApprove: false, createdAt: "t",
            updatedAt: "t", expiresAt: "t", reason: "r", outcome: Outcome(status: "succeeded", detail: "d"), grant: nil)
        try Self.check(view, against: try Self.schemaWithoutGrant(), "approval Approval (grant shown only to executors: checked by the grant schema)")
        let event = ApprovalEvent(
            seq: 1, type: "approved", approvalID: "appr_1", runID: "run_1", callID: "call_1", version: 1, status: .approved,
            actor: "approver1", at: "t", reason: "r")
        // approval.events and approval.watch send the same Event; a decision carries its approval with `with_approval`.
        try Self.check(DecidedEvent(event: event, approval: view), against: try Self.schema("approval", "Event"), "approval Event")
        try Self.check(Outcome(status: "succeeded", detail: "d"), against: try Self.schema("approval", "Outcome"), "approval Outcome")
        try Self.check(
            SubmitParams(runID: "run_1", callID: "call_1", action: Self.transfer, requestedBy: "operator", expiresIn: 60),
            against: try Self.params("approval", "approval.submit"), "approval.submit params")
        try Self.check(
            CancelParams(approvalID: "appr_1", reason: "r"), against: try Self.params("approval", "approval.cancel"), "approval.cancel params")
        try Self.check(
            WatchParams(afterSeq: 1, maxEvents: 10, withApproval: true), against: try Self.params("approval", "approval.watch"),
            "approval.watch params")
    }

    /// The `Approval` schema less `grant`: a grant is signed, so a sample cannot be made
    /// here without a key; `Protocols/grant.schema.json` and the grant tests hold it.
    static func schemaWithoutGrant() throws -> (properties: Set<String>, required: Set<String>) {
        let shape = try schema("approval", "Approval")
        return (shape.properties.subtracting(["grant"]), shape.required.subtracting(["grant"]))
    }
}
