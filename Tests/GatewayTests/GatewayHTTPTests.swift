import Foundation
import Gateway
import RPC
import RPCTesting
import Testing

/// Every endpoint of the gateway over a real socket of the real executable,
/// in front of the real services.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct GatewayHTTPTests {
    @Test func pageAssetsAndTheCommonRPCMethods() async throws {
        try await GatewayStack.with { stack in
            let client = HTTPTestClient(port: stack.port)
            let page = try await client.get("/")
            #expect(page.status == 200)
            #expect(page.headers["Content-Type"].first?.hasPrefix("text/html") == true)
            #expect(page.body.contains("<script src=\"/app.js\""))
            #expect(page.headers["Content-Security-Policy"].first?.contains("default-src 'self'") == true)
            #expect(page.headers["Referrer-Policy"].first == "same-origin")
            #expect(try await client.get("/app.js").headers["Content-Type"].first?.hasPrefix("text/javascript") == true)
            #expect(try await client.get("/app.css").status == 200)
            // The supervisor's health check and discovery on run/gateway.sock.
            let rpc = RPCClient(path: stack.gatewayHome.socket("gateway"))
            let document = try await rpc.call("rpc.discover", NoParams(), as: JSONValue.self)
            let methods = array(document["methods"]).compactMap { $0["name"]?.stringValue }
            #expect(Set(methods) == ["health.check", "health.watch", "rpc.discover", "rpc.cancel", "rpc.stats"])
            await rpc.close()
        }
    }

    @Test func signInOnlyWithAnApproverTokenAndSignOut() async throws {
        try await GatewayStack.with { stack in
            let client = HTTPTestClient(port: stack.port)
            let unauthenticated = try await client.get("/approvals")
            #expect(unauthenticated.status == 401 && unauthenticated.reason == "SIGN_IN_REQUIRED")
            #expect(unauthenticated.json["error"]?["status"]?.stringValue == "UNAUTHENTICATED")
            #expect(try await client.signIn(token: "not-a-token").reason == "UNKNOWN_TOKEN")
            let agent = try await client.signIn(token: try stack.home.token("agent"))
            #expect(agent.status == 403 && agent.reason == "ROLE_NOT_ALLOWED")
            let form = try await client.send("POST", "/login", headers: [("Content-Type", "text/plain")], body: "token")
            #expect(form.status == 415 && form.reason == "JSON_REQUIRED")
            let huge = try await client.post("/login", json: ["token": .string(String(repeating: "x", count: 70_000))], csrf: false)
            #expect(huge.status == 413 && huge.reason == "BODY_TOO_LARGE")

            let signedIn = try await client.signIn(token: try stack.home.token("approver1"))
            #expect(signedIn.status == 200 && signedIn.json["approver"]?.stringValue == "approver1")
            let cookie = signedIn.headers["Set-Cookie"].first ?? ""
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            #expect(try await client.get("/session").json["approver"]?.stringValue == "approver1")
            #expect(try await client.post("/logout", json: [:], csrf: false).reason == "CSRF_TOKEN_MISMATCH")
            #expect(try await client.post("/logout", json: [:]).status == 200)
            #expect(try await client.get("/session").status == 401)
        }
    }

    @Test func chatStreamsEveryEventUntilApprovalIsRequired() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            let answer = try await client.post("/chat", json: ["message": "Transfer $150 to Alice"])
            #expect(answer.status == 200)
            #expect(answer.headers["Content-Type"].first?.hasPrefix("text/event-stream") == true)
            let events = answer.events
            #expect(events.map(\.name) == ["run_started", "tool_call", "approval_required", "run_paused"])
            #expect(events.map(\.id) == [1, 2, 3, 4], "each event's id is its number in the run (seq)")
            #expect(events.allSatisfy { $0.data["type"]?.stringValue == $0.name && $0.data["request_id"] == nil })
            #expect(events.first?.data["requested_by"] == "approver1", "the signed-in person asked, not the agent")
            let required = try #require(events.required)
            #expect(required.data["action"]?["amount"]?.stringValue == "150.00")
            #expect(required.data["action"]?["to"]?.stringValue == "alice")
            let runID = try #require(required.data["run_id"]?.stringValue)

            let pending = try await client.get("/approvals")
            let approvals = array(pending.json["approvals"])
            #expect(approvals.count == 1)
            #expect(approvals.first?["approval_id"] == required.data["approval_id"])
            #expect(approvals.first?["grant"] == nil)
            let run = try await client.get("/runs/\(runID)")
            #expect(run.json["status"]?.stringValue == "awaiting_approval")
            #expect(try await client.get("/balance").json["available"]?.stringValue == "850.00")

            let small = try await client.post("/chat", json: ["message": "Check my balance", "mode": "structured"]).events
            #expect(small.first?.name == "run_started" && small.last?.name == "run_completed")
            #expect(small.last?.data["reply"]?.stringValue?.isEmpty == false)
        }
    }

    @Test func postsWithoutTheCSRFTokenOrFromAnotherSiteAreRefused() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            let missing = try await client.post("/chat", json: ["message": "Transfer $150 to Alice"], csrf: false)
            #expect(missing.status == 403 && missing.reason == "CSRF_TOKEN_MISMATCH")
            let wrong = try await client.post("/chat", json: ["message": "Transfer $150 to Alice"], csrf: false, headers: [("X-CSRF-Token", "forged")])
            #expect(wrong.status == 403 && wrong.reason == "CSRF_TOKEN_MISMATCH")
            let execute = try await client.post("/execute", json: ["run_id": "run_x", "approval_id": "ap_x", "approved": true], csrf: false)
            #expect(execute.status == 403 && execute.reason == "CSRF_TOKEN_MISMATCH")
            let foreign = try await client.post("/chat", json: ["message": "Transfer $150 to Alice"], headers: [("Origin", "http://evil.example")])
            #expect(foreign.status == 403 && foreign.reason == "CROSS_ORIGIN")
            // Nothing ran.
            #expect(try await client.get("/approvals").json["approvals"] == .array([]))
            #expect(try await stack.available("checking") == "1000.00")
        }
    }

    @Test func aClientThatLostTheStreamResumesWithLastEventID() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            // Read one event, then hang up; the run goes on without the client.
            let cut = try await client.send(
                "POST", "/chat", headers: [("Content-Type", "application/json"), ("X-CSRF-Token", client.csrf ?? "")],
                body: #"{"message": "Transfer $150 to Alice"}"#, stopAfter: 1)
            let first = try #require(cut.events.first)
            #expect(first.name == "run_started" && first.id == 1)
            let runID = try #require(first.data["run_id"]?.stringValue)
            _ = try await stack.waitForRun(runID, status: "awaiting_approval")

            let resumed = try await client.get("/runs/\(runID)/events", headers: [("Last-Event-ID", "1")])
            #expect(resumed.status == 200)
            #expect(resumed.events.map(\.id) == [2, 3, 4])
            #expect(resumed.events.map(\.name) == ["tool_call", "approval_required", "run_paused"])
            #expect(try await client.get("/runs/\(runID)/events", headers: [("Last-Event-ID", "4")]).events.isEmpty)
            #expect(try await client.get("/runs/\(runID)/events?last_event_id=2").events.map(\.id) == [3, 4])
            #expect(try await client.get("/runs/\(runID)/events").events.map(\.id) == [1, 2, 3, 4])
            let bad = try await client.get("/runs/\(runID)/events", headers: [("Last-Event-ID", "x")])
            #expect(bad.status == 400 && bad.json["error"]?["field"]?.stringValue == "Last-Event-ID")
            let unknown = try await client.get("/runs/run_doesnotexist/events")
            #expect(unknown.status == 404 && unknown.reason == "RUN_NOT_FOUND")
            #expect(try await client.get("/runs/run_doesnotexist").reason == "RUN_NOT_FOUND")
        }
    }

    @Test func executeRecordsTheApprovalAndStreamsTheResumedRun() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            let required = try #require(try await stack.chat(client, "Transfer $150 to Alice").required)
            let runID = try #require(required.data["run_id"]?.stringValue)
            let approvalID = try #require(required.data["approval_id"]?.stringValue)
            let other = try #require(try await stack.chat(client, "Transfer $200 to Bob").required)

            let mismatched = try await client.post("/execute", json: [
                "run_id": .string(runID), "approval_id": other.data["approval_id"] ?? .null, "approved": true, "version": 1,
            ])
            #expect(mismatched.status == 400 && mismatched.reason == "APPROVAL_NOT_IN_RUN")
            let noDecision = try await client.post("/execute", json: ["run_id": .string(runID), "approval_id": .string(approvalID)])
            #expect(noDecision.status == 400 && noDecision.json["error"]?["field"]?.stringValue == "approved")

            let noVersion = try await client.post("/execute", json: ["run_id": .string(runID), "approval_id": .string(approvalID), "approved": true])
            #expect(noVersion.status == 400 && noVersion.json["error"]?["field"]?.stringValue == "version", "every vote names the version it saw")
            let answer = try await client.post("/execute", json: [
                "run_id": .string(runID), "approval_id": .string(approvalID), "approved": true, "version": 1,
            ])
            #expect(answer.status == 200)
            let events = answer.events
            #expect(events.last?.name == "run_completed")
            #expect(events.last?.data["reply"]?.stringValue?.contains("150") == true)
            #expect(events.first?.name == "decision" && events.first?.id == nil && events.first?.data["status"] == "approved")
            let ids = events.compactMap(\.id)
            #expect(ids == Array((5...).prefix(ids.count)), "ids continue the run's: \(events.map(\.id))")
            #expect(try await stack.posted("checking") == "850.00")
            #expect(try await stack.posted("alice") == "150.00")
            let decided = try await stack.approval(approvalID)
            #expect(decided["approved_by"] == ["approver1"])
            // Deciding again is refused by approval-svc, with its reason.
            let again = try await client.post("/execute", json: [
                "run_id": .string(runID), "approval_id": .string(approvalID), "approved": false, "version": 1,
            ])
            #expect(again.status == 409, "\(again.body)")
        }
    }

    @Test func executeRejectionTellsTheAgentAndMovesNothing() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            let required = try #require(try await stack.chat(client, "Transfer $500 to Bob for rent").required)
            let answer = try await client.post("/execute", json: [
                "run_id": required.data["run_id"] ?? .null, "approval_id": required.data["approval_id"] ?? .null,
                "approved": false, "reason": "not this month", "version": 1,
            ])
            #expect(answer.events.last?.name == "run_completed")
            #expect(answer.events.contains { $0.name == "tool_result" && $0.data["output"]?.stringValue?.contains("DENIED: not this month") == true })
            #expect(try await stack.available("checking") == "1000.00")
            #expect(try await stack.posted("bob") == "0.00")
        }
    }

    @Test func openingALinkDecidesNothingAndOnlyItsPostApprovesOnce() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            let required = try #require(try await stack.chat(client, "Transfer $150 to Alice").required)
            let approvalID = try #require(required.data["approval_id"]?.stringValue)
            let runID = try #require(required.data["run_id"]?.stringValue)
            let link = try await stack.link("approve", for: approvalID)
            let path = try #require(URL(string: link)).path

            let browser = HTTPTestClient(port: stack.port)
            for _ in 0..<3 {  // a mail scanner prefetching the link, three times
                let page = try await browser.get(path + "?decision=approve")
                #expect(page.status == 200)
                #expect(page.body.contains("Approve this transfer?") && page.body.contains("$150.00") && page.body.contains("alice"))
            }
            #expect(try await stack.approval(approvalID)["status"]?.stringValue == "pending")
            let csrf = try #require(browser.cookie("hitl_link_csrf"))

            // A POST that did not come from the page (no cookie) decides nothing.
            let stranger = HTTPTestClient(port: stack.port)
            #expect(try await stranger.postForm(path, ["csrf": csrf, "decision": "approve"]).status == 403)
            #expect(try await browser.postForm(path, ["csrf": "forged", "decision": "approve"]).status == 403)
            #expect(try await stack.approval(approvalID)["status"]?.stringValue == "pending")

            // As a browser sends it: with the page's own Origin.
            let confirmed = try await browser.postForm(path, ["csrf": csrf, "decision": "approve"], headers: [("Origin", browser.base)])
            #expect(confirmed.status == 200 && confirmed.body.contains("Approved"))
            #expect(try await stack.waitForRun(runID, status: "completed")["status"]?.stringValue == "completed")
            #expect(try await stack.posted("alice") == "150.00")

            // The same link again: used, whichever way it comes back.
            _ = try await browser.get(path)
            let reused = try await browser.postForm(path, ["csrf": csrf, "decision": "approve"])
            #expect(reused.status == 409 && reused.body.contains("already used"))
            #expect(try await browser.get(path).body.contains("Already decided"))
            let completed = try await stack.webhook.wait(for: "approval.completed") {
                $0["type"]?.stringValue == "approval.completed" && $0["approval"]?["approval_id"]?.stringValue == approvalID
            }
            #expect(completed["approval"]?["status"]?.stringValue == "completed")
            // The gateway's events of the run say how it ended, though agent-svc's follower resumed it.
            #expect(try await client.get("/runs/\(runID)/events", headers: [("Last-Event-ID", "3")]).events.last?.name == "run_completed")
        }
    }

    @Test func expiredAndInvalidLinksShowAClearPage() async throws {
        try await GatewayStack.with { stack in
            let approval = try stack.home.client("approval", as: "agent")
            let submitted = try await approval.call("approval.submit", [
                "run_id": "r-expiring", "call_id": "c1", "requested_by": "operator", "expires_in": 1,
                "action": ["kind": "transfer", "from": "checking", "to": "alice", "amount": "150.00", "currency": "USD"],
            ] as JSONValue, as: JSONValue.self)
            await approval.close()
            let approvalID = try #require(submitted["approval_id"]?.stringValue)
            let path = try #require(URL(string: try await stack.link("approve", for: approvalID))).path
            try await Task.sleep(for: .milliseconds(2_100))
            let browser = HTTPTestClient(port: stack.port)
            let expired = try await browser.get(path)
            #expect(expired.status == 410 && expired.body.contains("This link has expired"))
            #expect(expired.headers["Set-Cookie"].isEmpty)

            let invalid = try await browser.get("/a/not-a-token")
            #expect(invalid.status == 404 && invalid.body.contains("This link is not valid"))
            // A token whose signature was tampered with says nothing about the approval it
            // names: approval-svc checks the signature before the page shows anything.
            let live = try await stack.chat(try await stack.signedInClient(), "Transfer $150 to Alice")
            let liveID = try #require(live.required?.data["approval_id"]?.stringValue)
            let livePath = try #require(URL(string: try await stack.link("approve", for: liveID))).path
            let tampered = String(livePath.dropLast(4)) + "AAAA"
            let forged = try await browser.get(tampered)
            #expect(forged.status == 404 && forged.body.contains("This link is not valid"))
            #expect(!forged.body.contains("150") && !forged.body.contains("alice") && !forged.body.contains(liveID))
            #expect(forged.headers["Set-Cookie"].isEmpty, "no form to confirm")
            _ = try await browser.get(livePath)
            let csrf = try #require(browser.cookie("hitl_link_csrf"))
            let refused = try await browser.postForm(tampered, ["csrf": csrf])
            #expect(refused.status == 404 && refused.body.contains("not valid"))
            #expect(try await stack.approval(liveID)["status"]?.stringValue == "pending")
            // The same pages answer on approval-svc's /links/ and on /a/.
            #expect(try await browser.get(livePath.replacingOccurrences(of: "/links/", with: "/a/")).status == 200)
        }
    }
}

/// The defects of links, versions, the gateway's identity and its address check.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct GatewayLeastPrivilegeTests {
    /// A link is not a person: an approve link of an approval that needs two
    /// approvers is never in a notice, and one issued before that rule shows a
    /// "sign in" page (or its JSON error) and counts for nobody, even beside one
    /// approver's vote. The reject link of the same approval still rejects.
    @Test func anApproveLinkOfATwoApproverApprovalSendsThePersonToSignIn() async throws {
        try await GatewayStack.with { stack in
            let agent = try stack.home.client("approval", as: "agent")
            let submitted = try await agent.call("approval.submit", [
                "run_id": "r-two-people", "call_id": "c1", "requested_by": "operator",
                "action": ["kind": "transfer", "from": "checking", "to": "alice", "amount": "15000.00", "currency": "USD"],
            ] as JSONValue, as: JSONValue.self)
            await agent.close()
            let approvalID = try #require(submitted["approval_id"]?.stringValue)
            #expect(submitted["required_approvers"]?.intValue == 2)
            let notice = try await stack.webhook.wait(for: "approval.requested for \(approvalID)") {
                $0["type"]?.stringValue == "approval.requested" && $0["approval"]?["approval_id"]?.stringValue == approvalID
            }
            #expect(notice["links"]?["approve"] == nil, "a two-approver approval gets no approve link")
            let rejectLink = try #require(notice["links"]?["reject"]?.stringValue)
            let rejectPath = try #require(URL(string: rejectLink)).path

            let legacy = try stack.legacyApproveLink(for: approvalID)
            let browser = HTTPTestClient(port: stack.port)
            let page = try await browser.get(legacy)
            #expect(page.status == 409 && page.body.contains("Sign in to approve this one") && page.body.contains("2 different approvers"))
            #expect(page.headers["Set-Cookie"].isEmpty, "no form to confirm")
            let json = try await browser.get(legacy, headers: [("Accept", "application/json")])
            #expect(json.status == 409 && json.reason == "LINK_NEEDS_SIGN_IN")
            #expect(json.json["error"]?["status"]?.stringValue == "FAILED_PRECONDITION")

            // A form from another link's page, posted to the legacy link: approval-svc refuses it.
            let reject = try await browser.get(rejectPath)
            #expect(reject.status == 200 && reject.body.contains("sign in to the approvals page"))
            let csrf = try #require(browser.cookie("hitl_link_csrf"))
            let origin = [("Origin", browser.base)]
            let refused = try await browser.postForm(legacy, ["csrf": csrf, "decision": "approve"], headers: origin)
            #expect(refused.status == 409 && refused.body.contains("Sign in to approve this one"), "\(refused.status) \(refused.body)")
            #expect(try await stack.approval(approvalID)["approved_by"] == .array([]))
            // One approver on the page, then the link: still one person.
            let approver1 = try stack.home.client("approval", as: "approver1")
            _ = try await approver1.call(
                "approval.decide", ["approval_id": .string(approvalID), "decision": "approve", "version": 1] as JSONValue, as: JSONValue.self)
            await approver1.close()
            let again = try await browser.postForm(legacy, ["csrf": csrf, "decision": "approve"], headers: origin + [("Accept", "application/json")])
            #expect(again.status == 409 && again.reason == "LINK_NEEDS_SIGN_IN")
            let pending = try await stack.approval(approvalID)
            #expect(pending["status"]?.stringValue == "pending" && pending["approved_by"] == ["approver1"])

            // Any rejection rejects.
            let rejected = try await browser.postForm(rejectPath, ["csrf": csrf, "decision": "reject"], headers: origin)
            #expect(rejected.status == 200 && rejected.body.contains("Rejected"))
            #expect(try await stack.approval(approvalID)["status"]?.stringValue == "rejected")
        }
    }

    /// The person signed in is the requester: approver1 asks for a $15,000 deposit on the
    /// page, and at the two-person tier cannot approve it; two others can.
    @Test func anApproverCannotApproveWhatTheyAskedForAtTheTwoPersonTier() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient(as: "approver1")
            let required = try #require(try await stack.chat(client, "Deposit $15,000 into my account").required)
            let runID = try #require(required.data["run_id"]?.stringValue)
            let approvalID = try #require(required.data["approval_id"]?.stringValue)
            let approval = try await stack.approval(approvalID)
            #expect(approval["requested_by"] == "approver1" && approval["required_approvers"] == 2)
            let own = try await client.post("/execute", json: [
                "run_id": .string(runID), "approval_id": .string(approvalID), "approved": true, "version": 1,
            ])
            #expect(own.status == 403 && own.reason == "REQUESTER_CANNOT_DECIDE", "\(own.status) \(own.body)")
            #expect(try await stack.approval(approvalID)["approved_by"] == .array([]))
            for approver in ["approver2", "approver3"] {
                let other = try await stack.signedInClient(as: approver)
                let vote = try await other.post("/execute", json: [
                    "run_id": .string(runID), "approval_id": .string(approvalID), "approved": true, "version": 1,
                ])
                #expect(vote.status == 200, "\(approver): \(vote.status) \(vote.body)")
            }
            #expect(try await stack.approval(approvalID)["status"]?.stringValue.map { ["approved", "completed"].contains($0) } == true)
        }
    }

    /// Removing an identity revokes it: within a second its token is refused and its
    /// page session has ended.
    @Test func aRemovedApproverIsSignedOutWithinASecond() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient(as: "approver2")
            #expect(try await client.get("/session").status == 200)
            let token = try stack.home.token("approver2")
            #expect(try IdentityProvisioner.revoke(["approver2"], in: stack.home.directory) == ["approver2"])
            let clock = ContinuousClock()
            let start = clock.now
            var status = 200
            while clock.now - start < .seconds(3) {
                status = try await client.get("/session").status
                if status == 401 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == 401 && clock.now - start < .seconds(1), "session still live after \(clock.now - start)")
            #expect(try await client.get("/approvals").status == 401)
            // approval-svc notices on its own watcher's next poll (every 250 ms), which may come
            // a moment after the gateway's: ask until it refuses, within two seconds of the removal.
            let direct = RPCClient(path: stack.home.socket("approval"), token: token)
            var refused = false
            while !refused, clock.now - start < .seconds(2) {
                do {
                    _ = try await direct.call("approval.list", ["status": "pending"] as JSONValue, as: JSONValue.self)
                    try await Task.sleep(for: .milliseconds(50))
                } catch is RPCError {
                    refused = true
                }
            }
            #expect(refused, "approval-svc still accepted the removed token \(clock.now - start) after its removal")
            await direct.close()
            let again = HTTPTestClient(port: stack.port)
            #expect(try await again.signIn(token: token).status == 401, "the token signs in no more")
        }
    }

    /// An approver's click counts only for the version the page showed: an edit
    /// by someone else in between makes it 409 VERSION_MISMATCH, and nothing is decided.
    @Test func executeRefusesAVoteForAVersionTheApproverDidNotSee() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            let required = try #require(try await stack.chat(client, "Transfer $150 to Alice").required)
            let runID = try #require(required.data["run_id"]?.stringValue)
            let approvalID = try #require(required.data["approval_id"]?.stringValue)
            let shown = try #require(array(try await client.get("/approvals").json["approvals"]).first)
            #expect(shown["version"]?.intValue == 1)

            // approver2 edits it into a two-approver transfer (and approves that).
            let approver2 = try stack.home.client("approval", as: "approver2")
            let edited = try await approver2.call("approval.decide", [
                "approval_id": .string(approvalID), "decision": "approve", "version": 1,
                "edited_action": ["kind": "transfer", "from": "checking", "to": "alice", "amount": "12000.00", "currency": "USD"],
            ] as JSONValue, as: JSONValue.self)
            await approver2.close()
            #expect(edited["version"]?.intValue == 2 && edited["status"]?.stringValue == "pending")

            let bad = try await client.post("/execute", json: [
                "run_id": .string(runID), "approval_id": .string(approvalID), "approved": true, "version": "one",
            ])
            #expect(bad.status == 400 && bad.json["error"]?["field"]?.stringValue == "version")
            let stale = try await client.post("/execute", json: [
                "run_id": .string(runID), "approval_id": .string(approvalID), "approved": true, "version": 1,
            ])
            #expect(stale.status == 409 && stale.reason == "VERSION_MISMATCH", "\(stale.status) \(stale.body)")
            let untouched = try await stack.approval(approvalID)
            #expect(untouched["status"]?.stringValue == "pending" && untouched["approved_by"] == ["approver2"])
            #expect(array(try await client.get("/approvals").json["approvals"]).first?["version"]?.intValue == 2)

            // Seen and decided at version 2: counted. (approver1 asked for it: at the two-person
            // tier its approval would not count, but anyone may withdraw their own request.)
            let rejected = try await client.post("/execute", json: [
                "run_id": .string(runID), "approval_id": .string(approvalID), "approved": false, "version": 2, "reason": "too much",
            ])
            #expect(rejected.status == 200 && rejected.events.last?.name == "run_completed")
            #expect(try await stack.approval(approvalID)["status"]?.stringValue == "rejected")
            #expect(try await stack.available("checking") == "1000.00")
        }
    }

    /// The gateway's home holds no operator token, and its own identity may
    /// redeem links and read but not open accounts, move money, or decide.
    /// Without its token, links answer 503 and say why; with it back, they work.
    @Test func theGatewayRedeemsLinksWithItsOwnRoleAndHoldsNoOperatorToken() async throws {
        try await GatewayStack.with { stack in
            #expect(!FileManager.default.fileExists(atPath: stack.gatewayHome.directory.tokenPath(for: "operator")))
            let refusals: [(String, String, JSONValue)] = [
                ("ledger", "ledger.open_account", ["account": "eve", "opening_balance": "1000000.00"]),
                ("ledger", "ledger.deposit", ["to": "checking", "amount": "1.00", "idempotency_key": "k1"]),
                ("ledger", "ledger.transfer", ["from": "checking", "to": "bob", "amount": "1.00", "idempotency_key": "k2"]),
                ("ledger", "ledger.hold", ["from": "checking", "to": "bob", "amount": "1.00", "idempotency_key": "k3"]),
                ("approval", "approval.decide", ["approval_id": "ap_x", "decision": "approve"]),
                ("approval", "approval.submit", ["run_id": "r", "call_id": "c", "requested_by": "gateway", "action": [
                    "kind": "transfer", "from": "checking", "to": "bob", "amount": "1.00", "currency": "USD"]]),
                ("approval", "approval.complete", ["approval_id": "ap_x", "outcome": ["status": "succeeded"]]),
                ("state", "state.list_runs", [:]),
            ]
            for (service, method, params) in refusals {
                let client = try stack.home.client(service, as: "gateway")
                do {
                    _ = try await client.call(method, params, as: JSONValue.self)
                    Issue.record("the gateway's identity may call \(method)")
                } catch let error as RPCError {
                    #expect(error.reason == "ROLE_NOT_ALLOWED", "\(method): \(error)")
                }
                await client.close()
            }
            #expect(try await stack.available("checking") == "1000.00")

            let client = try await stack.signedInClient()
            let required = try #require(try await stack.chat(client, "Transfer $150 to Alice").required)
            let approvalID = try #require(required.data["approval_id"]?.stringValue)
            let path = try #require(URL(string: try await stack.link("reject", for: approvalID))).path
            let tokenPath = stack.gatewayHome.directory.tokenPath(for: "gateway")
            let token = try String(contentsOfFile: tokenPath, encoding: .utf8)
            try FileManager.default.removeItem(atPath: tokenPath)
            let browser = HTTPTestClient(port: stack.port)
            let missing = try await browser.get(path)
            #expect(missing.status == 503 && missing.body.contains("Links are not set up"))
            #expect(try await browser.get(path, headers: [("Accept", "application/json")]).reason == "LINK_IDENTITY_MISSING")
            try IdentityProvisioner.writePrivate(Data(token.utf8), to: tokenPath)
            #expect(try await browser.get(path).status == 200)
            let csrf = try #require(browser.cookie("hitl_link_csrf"))
            let rejected = try await browser.postForm(path, ["csrf": csrf, "decision": "reject"], headers: [("Origin", browser.base)])
            #expect(rejected.status == 200 && rejected.body.contains("Rejected"))
        }
    }

    /// Loopback means a loopback IP address, parsed: not a name that starts with "127.".
    @Test(arguments: [
        ("127.0.0.1", true), ("127.1.2.3", true), ("127.255.255.255", true), ("::1", true), ("0:0:0:0:0:0:0:1", true),
        ("127.evil.example", false), ("127.0.0.1.evil.example", false), ("localhost", false), ("128.0.0.1", false),
        ("0.0.0.0", false), ("::", false), ("::2", false), ("::ffff:8.8.8.8", false), ("", false), ("127.", false),
    ])
    func loopbackIsAnAddressNotAPrefix(host: String, loopback: Bool) {
        var configuration = GatewayConfiguration(directory: RunDirectory(home: "/nonexistent"))
        configuration.host = host
        #expect(configuration.isLoopback == loopback, "\(host)")
    }

    @Test func theGatewayRefusesANameThatLooksLikeLoopback() async throws {
        let home = try TestHome.make(identities: GatewayStack.identities)
        defer { home.remove() }
        for host in ["127.evil.example", "localhost"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Executables.path("gateway"))
            process.arguments = ["--home", home.directory.home.path, "--host", host, "--port", "0"]
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            // A gateway that accepted the host would listen: stop it rather than wait forever.
            for _ in 0..<400 where process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 64, "\(host): exit \(process.terminationStatus): \(text)")
            #expect(text.contains("is not a loopback IP address") && text.contains("--allow-remote"), "\(host): \(text)")
        }
    }
}

/// The elements of a JSON array (none for anything else).
func array(_ value: JSONValue?) -> [JSONValue] {
    if case .array(let elements)? = value { return elements }
    return []
}
