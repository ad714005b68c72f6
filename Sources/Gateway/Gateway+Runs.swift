import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import RPC

extension Gateway {
    /// `POST /chat`, `POST /execute`, `GET /runs/{run_id}`, `GET /runs/{run_id}/events`.
    func addRunRoutes(to router: Routes) {
        router.post("/chat") { request, context in try await self.chat(request, context: context) }
        router.post("/execute") { request, context in try await self.execute(request, context: context) }
        router.get("/runs/{run_id}") { request, context in
            if Self.wantsPage(request) { return Self.pageResponse() }
            _ = try self.requireSession(request)
            let runID = try Field.identifier(try context.parameters.require("run_id"), name: "run_id")
            return JSONResponse.make(try JSONValue(encoding: try await self.getRun(runID, context: context)))
        }
        router.get("/runs/{run_id}/events") { request, context in try await self.events(request, context: context) }
        router.get("/runs/{run_id}/transcript") { request, context in
            let session = try self.requireSession(request)
            let runID = try Field.identifier(try context.parameters.require("run_id"), name: "run_id")
            return JSONResponse.make(try await self.runStory(runID, session: session, context: context))
        }
    }

    /// Starts a run for the signed-in person and streams its events until it pauses for
    /// approval or ends.
    func chat(_ request: Request, context: GatewayContext) async throws -> Response {
        let session = try requireSessionAndCSRF(request)
        let body = try await jsonBody(request)
        // The agent acts for the signed-in person, who is the requester of what it asks for.
        var params: [String: JSONValue] = [
            "message": .string(try Field.string(body, "message", maximum: 16_000) ?? ""), "on_behalf_of": .string(session.approver),
        ]
        if let mode = try Field.string(body, "mode", maximum: 16, required: false) {
            guard ["tools", "structured"].contains(mode) else { throw GatewayError.invalid("mode", "must be 'tools' or 'structured'") }
            params["mode"] = .string(mode)
        }
        if let session = try Field.string(body, "session_id", maximum: 128, required: false) { params["session_id"] = .string(session) }
        let slot = try streams.acquire()
        let options = Upstream.options(context.trace, timeout: configuration.maximumStreamDuration, idempotent: false)
        let agent = upstream.agent
        let chat = JSONValue.object(params)
        let stream = AgentStream.start(outlivesClient: true, logger: logger) { emit in
            _ = try await agent.stream("agent.chat", chat, event: JSONValue.self, as: RunResult.self, options: options, onEvent: emit)
        }
        try await stream.started()
        return eventStream(slot: slot, stream)
    }

    /// Records the signed-in approver's decision, then streams the run as agent-svc
    /// (which alone resumes runs) acts on it, until it is at rest again: completed, paused
    /// on other approvals, or, while this approval still needs another person, at once.
    func execute(_ request: Request, context: GatewayContext) async throws -> Response {
        let session = try requireSessionAndCSRF(request)
        let body = try await jsonBody(request)
        let runID = try Field.identifier(body, "run_id")
        let approvalID = try Field.identifier(body, "approval_id")
        guard case .bool(let approved)? = body["approved"] else { throw GatewayError.invalid("approved", "must be true or false") }
        var decide: [String: JSONValue] = ["approval_id": .string(approvalID), "decision": .string(approved ? "approve" : "reject")]
        // The version the person saw: approval-svc refuses a vote for any other
        // (409 VERSION_MISMATCH), so nobody approves an edit they never saw.
        guard let version = try Field.version(body, "version") else {
            throw GatewayError.invalid("version", "is required: the version of the approval you reviewed (GET /approvals shows it)")
        }
        decide["version"] = .int(version)
        if let reason = try Field.string(body, "reason", maximum: 1_000, required: false), !reason.isEmpty { decide["reason"] = .string(reason) }
        if let edited = body["edited_action"], edited != .null {
            guard approved else { throw GatewayError.invalid("edited_action", "only an approval can edit the action") }
            guard case .object = edited else { throw GatewayError.invalid("edited_action", "must be an action object") }
            decide["edited_action"] = edited
        }
        // Events after this one are streamed (the page passes the last id it showed);
        // without it, only what happens from the decision on.
        let after = try Field.sequence(body, "last_event_id")
        let asApprover = Upstream.options(context.trace, token: session.token)
        let approval = try await call { try await self.upstream.approval.call(
            "approval.get", ["approval_id": .string(approvalID)] as JSONValue, as: JSONValue.self, options: asApprover) }
        guard approval["run_id"]?.stringValue == runID else {
            throw GatewayError(.badRequest, code: "INVALID_ARGUMENT", reason: "APPROVAL_NOT_IN_RUN",
                               "approval \(approvalID) does not belong to run \(runID)", field: "approval_id")
        }
        // The same vote again returns the approval unchanged: safe to retry.
        let decided = try await call {
            try await self.upstream.approval.call("approval.decide", JSONValue.object(decide), as: JSONValue.self, options: asApprover)
        }
        logger.info("decision recorded", metadata: [
            "trace.id": "\(context.trace.traceID)", "approval.id": "\(approvalID)", "approver": "\(session.approver)", "approved": "\(approved)",
        ])
        // Still waiting for another person: the run stays paused, and the watch ends at once.
        let waitFor: [String] = decided["status"]?.stringValue == "pending" ? [] : [approvalID]
        // What the vote did comes first (not one of the run's events: it has no id).
        let decision = JSONValue.object([
            "type": "decision", "approval_id": .string(approvalID), "status": decided["status"] ?? .null,
            "version": decided["version"] ?? .null, "approved_by": decided["approved_by"] ?? .array([]),
            "required_approvers": decided["required_approvers"] ?? .null,
        ])
        return try await watch(
            runID, after: after, waitFor: waitFor, first: [ServerSentEvent(id: nil, name: "decision", data: decision.jsonText())],
            context: context)
    }

    /// `GET /runs/{run_id}/events`: the run's events after `Last-Event-ID` (header, or
    /// `last_event_id` in the query for clients that cannot set headers; 0 or absent:
    /// all of them), then each new one while the run is worked on, until it is at rest.
    func events(_ request: Request, context: GatewayContext) async throws -> Response {
        _ = try requireSession(request)
        let runID = try Field.identifier(try context.parameters.require("run_id"), name: "run_id")
        let text = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters["last_event_id"].map(String.init) ?? "0"
        guard let last = Int64(text.trimmingCharacters(in: CharacterSet.whitespaces)), (0...1_000_000_000).contains(last) else {
            throw GatewayError.invalid("Last-Event-ID", "must be the id of an event this gateway sent (a whole number)")
        }
        return try await watch(runID, after: last, waitFor: [], context: context)
    }

    /// Streams `agent.watch_run`: the events after `after` (nil: from now), until the run
    /// is at rest past `waitFor`, after `first`.
    private func watch(
        _ runID: String, after: Int64?, waitFor: [String], first: [ServerSentEvent] = [], context: GatewayContext
    ) async throws -> Response {
        var params: [String: JSONValue] = ["run_id": .string(runID), "wait_for": .array(waitFor.map(JSONValue.string))]
        if let after { params["after_seq"] = .int(after) }
        // An unknown run is a plain 404; after that the stream opens at once (a watch may
        // wait a while for its first event).
        _ = try await getRun(runID, context: context)
        let slot = try streams.acquire()
        let options = Upstream.options(context.trace, timeout: configuration.maximumStreamDuration)
        let agent = upstream.agent
        let watch = JSONValue.object(params)
        let stream = AgentStream.start(outlivesClient: false, logger: logger, first: first) { emit in
            _ = try await agent.stream("agent.watch_run", watch, event: JSONValue.self, as: RunResult.self, options: options, onEvent: emit)
        }
        return eventStream(slot: slot, stream)
    }

    func getRun(_ runID: String, context: GatewayContext) async throws -> RunResult {
        try await call { try await self.upstream.agent.call(
            "agent.get_run", ["run_id": .string(runID)] as JSONValue, as: RunResult.self, options: Upstream.options(context.trace)) }
    }

    /// A service call whose errors become HTTP errors.
    func call<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as RPCError { throw GatewayError.from(error) }
    }
}
