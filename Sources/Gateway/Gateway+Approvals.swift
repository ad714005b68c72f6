import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import RPC
import Synchronization

extension Gateway {
    /// Statuses `GET /approvals?status=` accepts (approval-svc's Status), and `all`.
    static let approvalStatuses: Set = ["pending", "approved", "rejected", "expired", "cancelled", "completed", "failed", "all"]
    /// The inbox's page size unless `?limit=`: a screen of rows.
    static let defaultApprovalPage = 25
    /// The most rows one page may ask for: approval-svc's own bound is 500; a browser page needs far fewer.
    static let maximumApprovalPage = 100
    /// The filters `GET /approvals` passes on to approval.list, by query name.
    static let approvalFilters = ["kind", "min_amount", "max_amount", "requested_by", "account", "q", "order", "cursor"]
    /// How long the detail view waits for a run that is being worked on to come to rest
    /// before showing its transcript so far.
    static let transcriptWait: Duration = .seconds(3)

    /// `GET /approvals` (pending unless `?status=`, filtered, paged), `GET /approvals/{id}`
    /// (one approval with its context: audit, paying account, the run's transcript),
    /// `GET /balance`.
    func addApprovalRoutes(to router: Routes) {
        router.get("/approvals") { request, context in
            let session = try self.requireSession(request)
            let query = request.uri.queryParameters
            let status = query["status"].map(String.init) ?? "pending"
            guard Self.approvalStatuses.contains(status) else {
                throw GatewayError.invalid("status", "must be one of \(Self.approvalStatuses.sorted().joined(separator: ", "))")
            }
            var params: [String: JSONValue] = ["limit": .int(Int64(try Self.pageSize(query["limit"].map(String.init))))]
            if status != "all" { params["status"] = .string(status) }
            for name in Self.approvalFilters {
                guard let value = query[name[...]].map(String.init)?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { continue }
                params[name] = .string(value)
            }
            let page = try await self.call { try await self.upstream.approval.call(
                "approval.list", JSONValue.object(params), as: JSONValue.self, options: Upstream.options(context.trace, token: session.token)) }
            guard case .array(let approvals)? = page["approvals"] else { throw GatewayError.from(RPCError.internalError()) }
            var answer: [String: JSONValue] = ["approvals": .array(approvals.map(Self.withoutGrant)), "now": .string(Self.timestamp(Date()))]
            if let next = page["next_cursor"], next != .null { answer["next_cursor"] = next }
            return JSONResponse.make(.object(answer))
        }
        router.get("/approvals/{approval_id}") { request, context in
            // The page's own address (the link notifications point to): a browser gets the
            // page, which then asks for the same address as JSON.
            if Self.wantsPage(request) { return Self.pageResponse() }
            let session = try self.requireSession(request)
            let approvalID = try Field.identifier(try context.parameters.require("approval_id"), name: "approval_id")
            return JSONResponse.make(try await self.approvalDetail(approvalID, session: session, context: context))
        }
        router.get("/audit") { request, context in
            if Self.wantsPage(request) { return Self.pageResponse() }
            let session = try self.requireSession(request)
            let query = request.uri.queryParameters
            var params: [String: JSONValue] = ["limit": .int(Int64(try Self.pageSize(query["limit"].map(String.init))))]
            for name in ["since", "until"] {
                if let value = query[name[...]].map(String.init), !value.isEmpty { params[name] = .string(value) }
            }
            if let after = query["after_seq"].map(String.init) {
                guard let seq = Int64(after), seq >= 0 else { throw GatewayError.invalid("after_seq", "must be a whole number, 0 or more") }
                params["after_seq"] = .int(seq)
            }
            let asApprover = Upstream.options(context.trace, token: session.token)
            let page = try await self.call { try await self.upstream.approval.call(
                "approval.audit_log", JSONValue.object(params), as: JSONValue.self, options: asApprover) }
            // The whole chain's verdict: a period's records are only as good as the chain they are in.
            let verification = try await self.call { try await self.upstream.approval.call(
                "approval.verify_audit", [:] as JSONValue, as: JSONValue.self, options: asApprover) }
            var answer: [String: JSONValue] = ["records": page["records"] ?? .array([]), "verification": verification]
            if let next = page["next_after_seq"], next != .null { answer["next_after_seq"] = next }
            return JSONResponse.make(.object(answer))
        }
        router.get("/balance") { request, context in
            let session = try self.requireSession(request)
            guard let account = session.account else {
                throw GatewayError(.notFound, code: "NOT_FOUND", reason: "NO_ACCOUNT",
                                   "\(session.approver) owns no account; list it under identities[].accounts in compose/stack.json")
            }
            let balance = try await self.call { try await self.upstream.ledger.call(
                "ledger.balance", ["account": .string(account)] as JSONValue, as: JSONValue.self,
                options: Upstream.options(context.trace)) }
            return JSONResponse.make(balance)
        }
    }

    /// One approval and what an approver needs to decide it: every audit record (votes,
    /// edits, the decision, what ran), the paying account's balance and holds, and the
    /// run's transcript (its events: what the person asked, what the model did).
    private func approvalDetail(_ approvalID: String, session: Session, context: GatewayContext) async throws -> JSONValue {
        let asApprover = Upstream.options(context.trace, token: session.token)
        let approval = try await call { try await self.upstream.approval.call(
            "approval.get", ["approval_id": .string(approvalID)] as JSONValue, as: JSONValue.self, options: asApprover) }
        let audit = try await call { try await self.upstream.approval.call(
            "approval.audit", ["approval_id": .string(approvalID)] as JSONValue, as: JSONValue.self, options: asApprover) }
        var detail: [String: JSONValue] = [
            "approval": Self.withoutGrant(approval), "audit": audit["records"] ?? .array([]), "now": .string(Self.timestamp(Date())),
        ]
        let action = approval["action"]
        let payer = action?["kind"]?.stringValue == "deposit" ? action?["to"] : action?["from"]
        if let account = payer?.stringValue {
            // Context, not a condition of deciding: an account the ledger cannot show leaves it out.
            detail["balance"] = try? await upstream.ledger.call(
                "ledger.balance", ["account": .string(account)] as JSONValue, as: JSONValue.self, options: Upstream.options(context.trace))
        }
        if let runID = approval["run_id"]?.stringValue {
            let (run, events) = await transcript(of: runID, context: context)
            if let run { detail["run"] = try JSONValue(encoding: run) }
            detail["transcript"] = .array(events)
        }
        return .object(detail)
    }

    /// A run's page: the run as it stands, its events from the first, and its approvals.
    func runStory(_ runID: String, session: Session, context: GatewayContext) async throws -> JSONValue {
        let run = try await getRun(runID, context: context)  // 404 for an unknown run
        let (_, events) = await transcript(of: runID, context: context)
        let approvals = try await call { try await self.upstream.approval.call(
            "approval.list", ["run_id": .string(runID), "limit": 100] as JSONValue, as: JSONValue.self,
            options: Upstream.options(context.trace, token: session.token)) }
        return [
            "run": try JSONValue(encoding: run), "transcript": .array(events),
            "approvals": .array((approvals["approvals"]?.arrayValues ?? []).map(Self.withoutGrant)), "now": .string(Self.timestamp(Date())),
        ]
    }

    /// The run's events from its first, as `agent.watch_run` tells them, and the run as it
    /// stands; a run being worked on is waited for a moment (``transcriptWait``).
    private func transcript(of runID: String, context: GatewayContext) async -> (RunResult?, [JSONValue]) {
        let collected = EventBuffer()
        let options = Upstream.options(context.trace, timeout: Self.transcriptWait)
        let run = try? await upstream.agent.stream(
            "agent.watch_run", ["run_id": .string(runID), "after_seq": 0] as JSONValue, event: JSONValue.self, as: RunResult.self,
            options: options) { collected.append($0) }
        return (run, collected.events)
    }

    /// Whether a `GET` is a browser asking for a page rather than the page asking for data.
    static func wantsPage(_ request: Request) -> Bool {
        let accept = request.headers[.accept] ?? ""
        return accept.contains("text/html") && !accept.contains("application/json")
    }

    static func pageResponse() -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.index_html)))
    }

    /// `?limit=`: 1 to ``maximumApprovalPage``.
    static func pageSize(_ text: String?) throws -> Int {
        guard let text else { return defaultApprovalPage }
        guard let limit = Int(text), (1...maximumApprovalPage).contains(limit) else {
            throw GatewayError.invalid("limit", "must be a whole number from 1 to \(maximumApprovalPage)")
        }
        return limit
    }

    /// Grants are for the ledger, not for browsers.
    static func withoutGrant(_ approval: JSONValue) -> JSONValue {
        guard case .object(var fields) = approval else { return approval }
        fields["grant"] = nil
        return .object(fields)
    }

    /// RFC 3339 UTC with milliseconds, as the services write times.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// Events as a stream delivers them (on an event loop), read once the stream ends.
final class EventBuffer: Sendable {
    private let storage = Mutex<[JSONValue]>([])
    func append(_ event: JSONValue) { storage.withLock { $0.append(event) } }
    var events: [JSONValue] { storage.withLock { $0 } }
}
