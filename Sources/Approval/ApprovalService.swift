import Foundation
import RPC

/// The `approval.*` methods on the RPC core.
public enum ApprovalService {
    /// Events one `approval.events` page returns by default.
    static let defaultEventPage = 100
    /// The largest `approval.events` page: bounded response size.
    static let maximumEventPage = 1_000
    /// Events `approval.watch` reads from the database at a time while catching up.
    static let watchPage = 256

    /// The service's name, version and contract.
    /// - Throws: when the embedded contract is not JSON.
    public static func description() throws -> RPCServiceDescription {
        try RPCServiceDescription(name: "approval", openRPC: PackageResources.approval_openrpc_json)
    }

    /// Registers every `approval.*` method.
    /// - Parameters:
    ///   - router: the router being built.
    ///   - engine: the approval queue.
    public static func register(_ router: inout RPCRouterBuilder, engine: ApprovalEngine) {
        let agent = RPCMethodOptions(access: .roles(["agent"]))
        let approver = RPCMethodOptions(access: .roles(["approver"]))
        let executor = RPCMethodOptions(access: .roles(["agent", "operator"]))

        router.register("approval.submit", params: SubmitParams.self, options: agent) { params, context in
            try await engine.submit(params, by: try context.requireIdentity())
        }
        router.register("approval.decide", params: DecideParams.self, options: approver) { params, context in
            shown(try await engine.decide(params, by: try context.requireIdentity()), to: context)
        }
        router.register("approval.cancel", params: CancelParams.self, options: executor) { params, context in
            try await engine.cancel(params, by: try context.requireIdentity())
        }
        router.register("approval.complete", params: CompleteParams.self, options: executor) { params, context in
            try await engine.complete(params, by: try context.requireIdentity())
        }
        router.register("approval.renew_grant", params: ApprovalIDParams.self, options: executor) { params, context in
            try await engine.renewGrant(params, by: try context.requireIdentity())
        }
        router.register("approval.submit_batch", params: SubmitBatchParams.self, options: .init(access: .roles(["operator"]))) { params, context in
            try await engine.submitBatch(params, by: try context.requireIdentity())
        }
        router.register("approval.decide_batch", params: DecideBatchParams.self, options: approver) { params, context in
            shown(try await engine.decideBatch(params, by: try context.requireIdentity()), to: context)
        }
        router.register("approval.complete_batch", params: CompleteParams.self, options: executor) { params, context in
            try await engine.completeBatch(params, by: try context.requireIdentity())
        }
        router.register("approval.get_batch", params: ApprovalIDParams.self) { params, context in
            shown(try await engine.getBatch(params.approvalID), to: context)
        }
        router.register("approval.list_batches", params: ListBatchesParams.self) { params, context in
            let page = try await engine.listBatches(params)
            return ListBatchesResult(batches: page.batches.map { shown($0, to: context) }, nextCursor: page.nextCursor)
        }
        router.register("approval.get", params: ApprovalIDParams.self) { params, context in
            shown(try await engine.get(params.approvalID), to: context)
        }
        router.register("approval.list", params: ListParams.self) { params, context in
            let page = try await engine.list(params)
            return ListResult(approvals: page.approvals.map { shown($0, to: context) }, nextCursor: page.nextCursor)
        }
        router.register("approval.events", params: EventsParams.self) { params, _ in
            let after = try cursor(params.afterSeq)
            let limit = params.limit ?? defaultEventPage
            guard (1...maximumEventPage).contains(limit) else {
                throw RPCError.invalidParams(field: "limit", "must be between 1 and \(maximumEventPage)")
            }
            let events = try await engine.events(after: after, limit: limit + 1)
            let page = Array(events.prefix(limit))
            return EventsResult(events: page, lastSeq: page.last?.seq ?? after, hasMore: events.count > limit)
        }
        router.register("approval.watch", params: WatchParams.self, options: .init(streaming: true)) { params, context in
            try await watch(params, engine: engine, context: context)
        }
        router.register("approval.audit", params: ApprovalIDParams.self) { params, _ in
            AuditResult(records: try await engine.audit(of: params.approvalID))
        }
        router.register("approval.audit_log", params: AuditLogParams.self) { params, _ in
            try await engine.auditLog(params)
        }
        router.register("approval.verify_audit", params: NoParams.self) { _, _ in
            try await engine.verifyAudit()
        }
        // `gateway`: the HTTP gateway's own role, which nothing that moves money accepts.
        router.register("approval.redeem_link", params: RedeemLinkParams.self, options: .init(access: .roles(["gateway", "approver", "operator"]))) { params, context in
            shown(try await engine.redeemLink(params), to: context)
        }
        router.register("approval.preview_link", params: PreviewLinkParams.self, options: .init(access: .roles(["gateway", "approver", "operator"]))) { params, _ in
            try await engine.previewLink(params)
        }
        router.register("approval.deliveries", params: ApprovalIDParams.self) { params, _ in
            DeliveriesResult(deliveries: try await engine.deliveries(of: params.approvalID))
        }
    }

    /// An approval as `context`'s caller may see it: grants only for the roles that execute.
    private static func shown(_ view: ApprovalView, to context: RPCContext) -> ApprovalView {
        GrantReaders.allows(context.identity) ? view : view.withoutGrant()
    }

    /// A batch as `context`'s caller may see it: grants only for the roles that execute.
    private static func shown(_ view: BatchApprovalView, to context: RPCContext) -> BatchApprovalView {
        GrantReaders.allows(context.identity) ? view : view.withoutGrant()
    }

    private static func cursor(_ afterSeq: Int64?) throws -> Int64 {
        let after = afterSeq ?? 0
        guard after >= 0 else { throw RPCError.invalidParams(field: "after_seq", "must be 0 or more") }
        return after
    }

    /// Sends every event after the cursor, then each new one as it commits, until
    /// `max_events` were sent or the call is cancelled.
    private static func watch(_ params: WatchParams, engine: ApprovalEngine, context: RPCContext) async throws -> WatchResult {
        var cursor = try cursor(params.afterSeq)
        let maximum = params.maxEvents ?? Int.max
        guard maximum >= 1 else { throw RPCError.invalidParams(field: "max_events", "must be 1 or more") }
        // Called as a notification, nobody would hear the events (or this error): stop at once.
        guard context.canStream else {
            throw RPCError(.failedPrecondition, reason: "STREAMING_REQUIRED", "approval.watch streams events: call it with an id")
        }
        guard let subscription = engine.notifier.subscribe() else {
            throw RPCError(.resourceExhausted, reason: "TOO_MANY_WATCHERS", "too many watchers; use approval.events to poll")
        }
        defer { engine.notifier.unsubscribe(subscription.id) }
        var wakeUps = subscription.stream.makeAsyncIterator()
        var sent = 0
        while true {
            let page = try await engine.events(after: cursor, limit: min(watchPage, maximum - sent))
            for event in page {
                if params.withApproval == true, DecidedEvent.decisions.contains(event.type) {
                    context.emit(DecidedEvent(event: event, approval: shown(try await engine.get(event.approvalID), to: context)))
                } else {
                    context.emit(event)
                }
                cursor = event.seq
                sent += 1
            }
            if sent >= maximum { return WatchResult(lastSeq: cursor, sent: sent) }
            if page.count == watchPage { continue }
            guard await wakeUps.next() != nil else { throw CancellationError() }
            try Task.checkCancellation()
        }
    }
}
