import Foundation
import HTTPTypes
import Hummingbird
import RPC

extension Gateway {
    /// `POST /chat`, `POST /execute`, `GET /runs/{run_id}`, `GET /runs/{run_id}/events`.
    func addRunRoutes(to router: Router<GatewayContext>) {
        router.post("/chat") { request, context in try await self.chat(request, context: context) }
        router.post("/execute") { request, context in try await self.execute(request, context: context) }
        router.get("/runs/{run_id}") { request, context in
            _ = try self.requireSession(request)
            let runID = try Field.identifier(try context.parameters.require("run_id"), name: "run_id")
            return JSONResponse.make(try JSONValue(encoding: try await self.getRun(runID, context: context)))
        }
        router.get("/runs/{run_id}/events") { request, context in try await self.events(request, context: context) }
    }

    /// Starts a run and streams its events until it pauses for approval or ends.
    func chat(_ request: Request, context: GatewayContext) async throws -> Response {
        _ = try requireSessionAndCSRF(request)
        let body = try await jsonBody(request)
        var params: [String: JSONValue] = ["message": .string(try Field.string(body, "message", maximum: 16_000) ?? "")]
        if let mode = try Field.string(body, "mode", maximum: 16, required: false) {
            guard ["tools", "structured"].contains(mode) else { throw GatewayError.invalid("mode", "must be 'tools' or 'structured'") }
            params["mode"] = .string(mode)
        }
        if let session = try Field.string(body, "session_id", maximum: 128, required: false) { params["session_id"] = .string(session) }
        let slot = try streams.acquire()
        let options = Upstream.options(context.trace, timeout: configuration.maximumStreamDuration, idempotent: false)
        let agent = upstream.agent
        let chat = JSONValue.object(params)
        let pump = RunPump.start(runID: nil, journal: journal, logger: logger) { emit in
            try await agent.stream("agent.chat", chat, event: JSONValue.self, as: RunView.self, options: options, onEvent: emit)
        }
        try await pump.started()
        return eventStream(slot: slot, pump.events)
    }

    /// Records the signed-in approver's decision, then streams the resumed run
    /// until it pauses again or completes.
    func execute(_ request: Request, context: GatewayContext) async throws -> Response {
        let session = try requireSessionAndCSRF(request)
        let body = try await jsonBody(request)
        let runID = try Field.identifier(body, "run_id")
        let approvalID = try Field.identifier(body, "approval_id")
        guard case .bool(let approved)? = body["approved"] else { throw GatewayError.invalid("approved", "must be true or false") }
        var decide: [String: JSONValue] = ["approval_id": .string(approvalID), "decision": .string(approved ? "approve" : "reject")]
        // The version the person saw: approval-svc refuses a vote for any other
        // (409 VERSION_MISMATCH), so nobody approves an edit they never saw.
        if let version = try Field.version(body, "version") { decide["version"] = .int(version) }
        if let reason = try Field.string(body, "reason", maximum: 1_000, required: false), !reason.isEmpty { decide["reason"] = .string(reason) }
        if let edited = body["edited_action"], edited != .null {
            guard approved else { throw GatewayError.invalid("edited_action", "only an approval can edit the action") }
            guard case .object = edited else { throw GatewayError.invalid("edited_action", "must be an action object") }
            decide["edited_action"] = edited
        }
        let asApprover = Upstream.options(context.trace, token: session.token)
        let approval = try await call { try await self.upstream.approval.call(
            "approval.get", ["approval_id": .string(approvalID)] as JSONValue, as: JSONValue.self, options: asApprover) }
        guard approval["run_id"]?.stringValue == runID else {
            throw GatewayError(.badRequest, code: "INVALID_ARGUMENT", reason: "APPROVAL_NOT_IN_RUN",
                               "approval \(approvalID) does not belong to run \(runID)", field: "approval_id")
        }
        // The same vote again returns the approval unchanged: safe to retry.
        _ = try await call { try await self.upstream.approval.call("approval.decide", JSONValue.object(decide), as: JSONValue.self, options: asApprover) }
        logger.info("decision recorded", metadata: [
            "trace.id": "\(context.trace.traceID)", "approval.id": "\(approvalID)", "approver": "\(session.approver)", "approved": "\(approved)",
        ])
        let slot = try streams.acquire()
        let options = Upstream.options(context.trace, timeout: configuration.maximumStreamDuration)
        let agent = upstream.agent
        let settle: @Sendable (String) async throws -> RunView = { runID in
            try await self.settled(runID, after: approvalID, context: context)
        }
        let pump = RunPump.start(runID: runID, journal: journal, logger: logger, settle: settle) { emit in
            try await agent.stream("agent.resume", ["run_id": .string(runID)] as JSONValue, event: JSONValue.self, as: RunView.self,
                                   options: options, onEvent: emit)
        }
        try await pump.started()
        return eventStream(slot: slot, pump.events)
    }

    /// What a client missed after `Last-Event-ID` (header, or `last_event_id`
    /// in the query for clients that cannot set headers), then the events
    /// still to come while the run streams, then where the run stands now if
    /// that changed elsewhere (a link, `hitl approve`, agent-svc's follower).
    func events(_ request: Request, context: GatewayContext) async throws -> Response {
        _ = try requireSession(request)
        let runID = try Field.identifier(try context.parameters.require("run_id"), name: "run_id")
        let text = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters["last_event_id"].map(String.init) ?? "0"
        guard let last = Int(text.trimmingCharacters(in: CharacterSet.whitespaces)), (0...1_000_000_000).contains(last) else {
            throw GatewayError.invalid("Last-Event-ID", "must be the id of an event this gateway sent (a whole number)")
        }
        let followed = await journal.follow(runID, after: last)
        // A run unknown here must exist at agent-svc before a stream is opened for it.
        let known = followed.known ? nil : try await getRun(runID, context: context)
        let slot = try streams.acquire()
        return eventStream(slot: slot, first: followed.missed, followed.live) {
            guard await !self.journal.isProducing(runID) else { return [] }
            var current = known
            if current == nil { current = try? await self.getRun(runID, context: context) }
            guard var run = current else { return [] }
            if run.status == "running", let settled = try? await self.watchRun(runID, context: context) { run = settled }
            return await self.journal.reconcile(runID, with: run, after: last).filter { $0.id > last }
        }
    }

    /// Where a run stands once another agent process resumed it past `approvalID`:
    /// polled (agent-svc keeps nothing in memory to wait on), at most 30 s.
    func settled(_ runID: String, after approvalID: String, context: GatewayContext) async throws -> RunView {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while true {
            let run = try await getRun(runID, context: context)
            let moved = run.status != "running" && !run.pending.contains { $0.approvalID == approvalID }
            if moved || clock.now >= deadline { return run }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    func getRun(_ runID: String, context: GatewayContext) async throws -> RunView {
        try await call { try await self.upstream.agent.call(
            "agent.get_run", ["run_id": .string(runID)] as JSONValue, as: RunView.self, options: Upstream.options(context.trace)) }
    }

    func watchRun(_ runID: String, context: GatewayContext) async throws -> RunView {
        let options = Upstream.options(context.trace, timeout: configuration.maximumStreamDuration)
        return try await call { try await self.upstream.agent.stream(
            "agent.watch_run", ["run_id": .string(runID)] as JSONValue, event: JSONValue.self, as: RunView.self, options: options) { _ in } }
    }

    /// A service call whose errors become HTTP errors.
    func call<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as RPCError { throw GatewayError.from(error) }
    }
}
