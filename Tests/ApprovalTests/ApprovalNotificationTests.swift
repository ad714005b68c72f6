import Approval
import Banking
import Crypto
import Foundation
import RPC
import RPCTesting
import SQLiteKit
import Testing

/// Notifications from the outbox: a webhook receiver and an SMTP sink on loopback.
@Suite(.serialized)
struct ApprovalNotificationTests {
    static let secret = "test-webhook-secret-0123456789"

    static func secretFile(in home: TestHome) throws -> String {
        let path = home.directory.home.appendingPathComponent("webhook.secret").path
        try secret.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Waits until `condition` holds, for up to `seconds`.
    static func eventually(_ seconds: Double = 10, _ condition: () async throws -> Bool) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(seconds * 1000))
        while clock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    static func validSignature(_ request: ReceivedRequest) -> Bool {
        guard let timestamp = request.headers["x-hitl-timestamp"], let header = request.headers["x-hitl-signature"] else { return false }
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("\(timestamp).".utf8) + Data(request.body), using: SymmetricKey(data: Data(secret.utf8)))
        return header == "v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    static func deliveries(_ harness: ApprovalHarness, _ approvalID: String) async throws -> [DeliveryView] {
        let result = try await harness.call("approval.deliveries", ["approval_id": .string(approvalID)])
        return try (result["deliveries"] ?? .null).decode(as: [DeliveryView].self)
    }

    @Test(arguments: DatabaseBackend.allCases) func webhookAndEmailCarrySignedSingleUseLinks(backend: DatabaseBackend) async throws {
        let receiver = try WebhookReceiver.start()
        let sink = try SMTPSink.start()
        defer { receiver.server.stop(); sink.server.stop() }
        let home = try TestHome.make()
        let harness = try await ApprovalHarness.start(backend: backend, arguments: [
            "--webhook-url", "http://127.0.0.1:\(receiver.server.port)/hook", "--webhook-secret-file", try Self.secretFile(in: home),
            "--smtp-url", "smtp://127.0.0.1:\(sink.server.port)", "--mail-to", "approvers@example.com",
            "--link-base-url", "https://gateway.example",
        ], home: home)
        defer { Task { await harness.finish() } }

        let pending = try await harness.submit(Actions.transfer("150.00"))
        #expect(try await Self.eventually { receiver.requests.count == 1 && sink.messages.count == 1 })
        let request = try #require(receiver.requests.first)
        #expect(Self.validSignature(request))
        let body = try JSONValue(parsing: String(decoding: request.body, as: UTF8.self))
        #expect(body["type"] == "approval.requested")
        #expect(body["delivery_id"]?.stringValue == request.headers["x-hitl-delivery-id"])
        #expect(body["approval"]?["approval_id"]?.stringValue == pending.approvalID)
        let approveLink = try #require(body["links"]?["approve"]?.stringValue)
        let rejectLink = try #require(body["links"]?["reject"]?.stringValue)
        #expect(body["links"]?["page"]?.stringValue?.hasSuffix("/approvals/\(body["approval"]?["approval_id"]?.stringValue ?? "?")") == true,
                "the notice links the approval's own page")
        #expect(approveLink.hasPrefix("https://gateway.example/links/v1."))
        let mail = try #require(sink.messages.first)
        #expect(mail.contains("Subject: Approval needed: transfer of $150.00 from checking to alice"))
        #expect(mail.contains("https://gateway.example/links/v1."))
        #expect(try await Self.eventually { try await Self.deliveries(harness, pending.approvalID).allSatisfy { $0.state == "delivered" } })
        #expect(try await harness.events().filter { $0.type == "notified" }.count == 2)

        func token(_ link: String) -> String {
            String(link.split(separator: "/").last!.split(separator: "?").first!)
        }
        let redeem = { (token: String, decision: String, who: String) in
            try await harness.call("approval.redeem_link", as: who, ["token": .string(token), "decision": .string(decision)])
        }
        await expectError("approval.redeem_link", .permissionDenied, "LINK_DECISION_MISMATCH") {
            _ = try await redeem(token(approveLink), "reject", "operator")
        }
        var tampered = Array(token(approveLink))
        tampered[10] = tampered[10] == "A" ? "B" : "A"
        await expectError("approval.redeem_link", .permissionDenied, "LINK_INVALID") {
            _ = try await redeem(String(tampered), "approve", "operator")
        }
        await expectError("approval.redeem_link", .permissionDenied, "ROLE_NOT_ALLOWED") {
            _ = try await redeem(token(approveLink), "approve", "agent")
        }
        let approved = try await redeem(token(approveLink), "approve", "operator").decode(as: ApprovalView.self)
        #expect(approved.status == .approved)
        #expect(approved.grant?.approvers == ["link"])
        await expectError("approval.redeem_link", .failedPrecondition, "LINK_ALREADY_USED") {
            _ = try await redeem(token(approveLink), "approve", "operator")
        }
        await expectError("approval.redeem_link", .failedPrecondition, "ALREADY_APPROVED") {
            _ = try await redeem(token(rejectLink), "reject", "approver1")
        }

        _ = try await harness.call("approval.complete", as: "agent", [
            "approval_id": .string(pending.approvalID), "outcome": .object(["status": "succeeded"]),
        ])
        #expect(try await Self.eventually { receiver.requests.count == 2 && sink.messages.count == 2 })
        let completion = try JSONValue(parsing: String(decoding: receiver.requests[1].body, as: UTF8.self))
        #expect(completion["type"] == "approval.completed")
        #expect(Self.validSignature(receiver.requests[1]))
        #expect(sink.messages[1].contains("Subject: Completed:"))

        // A link is not a person: the two-approver tier gets no approve link, in any channel.
        let large = try await harness.submit(Actions.transfer("20000.00"))
        #expect(try await Self.eventually { receiver.requests.count == 3 && sink.messages.count == 3 })
        let largeBody = try JSONValue(parsing: String(decoding: receiver.requests[2].body, as: UTF8.self))
        #expect(largeBody["links"]?["approve"] == nil, "no approve link for an approval that needs two people")
        #expect(largeBody["links"]?["reject"]?.stringValue?.hasPrefix("https://gateway.example/links/v1.") == true)
        #expect(largeBody["text"]?.stringValue?.contains("To approve, sign in at https://gateway.example/") == true)
        let largeMail = sink.messages[2]
        #expect(!largeMail.split(separator: "\n").contains { $0.hasPrefix("Approve: ") })
        #expect(largeMail.contains("To approve, sign in at https://gateway.example/"))
        #expect(try await harness.decide(large.approvalID, as: "approver1").status == .pending)
        let decided = try await harness.decide(large.approvalID, as: "approver2")
        #expect(decided.status == .approved)
        #expect(try await harness.grant(large.approvalID)?.approvers == ["approver1", "approver2"])
        #expect(try await harness.verifyAudit().ok)
        await harness.stop()
    }

    /// The identities of these tests: the default ones and the gateway's own.
    static let identities = TestHome.defaultIdentities

    /// An approve link as approval-svc issued them before approvals that need
    /// several people stopped getting one: signed with its key and stored as issued.
    static func legacyApproveToken(for approvalID: String, in harness: ApprovalHarness) throws -> String {
        let keyText = try String(contentsOfFile: harness.home.directory.run.appendingPathComponent("link-signing.key").path, encoding: .utf8)
        let key = SymmetricKey(data: try #require(Data(base64Encoded: keyText.trimmingCharacters(in: .whitespacesAndNewlines))))
        // Approval ids are the service's own (ap_ and base32): safe to write into the statement.
        let row = try #require(try harness.sqlRow("SELECT version, expires_at FROM approvals WHERE approval_id = '\(approvalID)'", columns: 2))
        let (version, expiresAt) = (try #require(Int64(row[0])), try #require(Int64(row[1])))
        let nonce = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try harness.sql(
            "INSERT INTO link_tokens (nonce, approval_id, version, decision, recipient, expires_at) VALUES ('\(nonce)', '\(approvalID)', \(version), 'approve', 'webhook', \(expiresAt))")
        let payload = #"{"a":"\#(approvalID)","d":"approve","e":\#(expiresAt / 1000),"n":"\#(nonce)","v":\#(version)}"#
        let body = Base64URL.encode(Data(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key)
        return "v1.\(body).\(Base64URL.encode(Data(mac)))"
    }

    /// An approve link never fills a seat of an approval that needs two people,
    /// not even one issued before such approvals stopped getting them; reject
    /// links still reject, and one-person approvals still approve by link. The
    /// gateway's own role redeems links and can do nothing else that matters.
    @Test(arguments: DatabaseBackend.allCases) func anApproveLinkNeverCountsTowardSeveralApprovers(backend: DatabaseBackend) async throws {
        let receiver = try WebhookReceiver.start()
        defer { receiver.server.stop() }
        let home = try TestHome.make(identities: Self.identities)
        let harness = try await ApprovalHarness.start(backend: backend, arguments: [
            "--webhook-url", "http://127.0.0.1:\(receiver.server.port)/hook", "--webhook-secret-file", try Self.secretFile(in: home),
        ], home: home)
        defer { Task { await harness.finish() } }
        let redeem = { (token: String, decision: String) in
            try await harness.call("approval.redeem_link", as: "gateway", ["token": .string(token), "decision": .string(decision)])
        }

        // One person needed: the approve link approves, as the approver "link". (First: once
        // the day's transfers pass $10,000 below, every transfer of the day needs two people.)
        let small = try await harness.submit(Actions.transfer("150.00"))
        let smallNotice = try await Self.notice(for: small.approvalID, in: receiver)
        let approve = try #require(smallNotice["links"]?["approve"]?.stringValue)
        let approveToken = String(approve.split(separator: "/").last!.split(separator: "?").first!)
        let byLink = try await redeem(approveToken, "approve").decode(as: ApprovalView.self)
        #expect(byLink.status == .approved && byLink.grant == nil, "the gateway never sees the grant")
        #expect(try await harness.grant(small.approvalID)?.approvers == ["link"])

        let large = try await harness.submit(Actions.transfer("20000.00"))
        let notice = try await Self.notice(for: large.approvalID, in: receiver)
        #expect(notice["links"]?["approve"] == nil)
        #expect(notice["links"]?["reject"] != nil)
        let legacy = try Self.legacyApproveToken(for: large.approvalID, in: harness)
        await expectError("approval.redeem_link", .failedPrecondition, "LINK_NEEDS_SIGN_IN") { _ = try await redeem(legacy, "approve") }
        #expect(try await harness.get(large.approvalID).approvedBy.isEmpty, "the refused link counted for nobody")
        // approver1 on the page, then the link: still one person.
        #expect(try await harness.decide(large.approvalID, as: "approver1").status == .pending)
        await expectError("approval.redeem_link", .failedPrecondition, "LINK_NEEDS_SIGN_IN") { _ = try await redeem(legacy, "approve") }
        let stillOne = try await harness.get(large.approvalID)
        #expect(stillOne.status == .pending && stillOne.approvedBy == ["approver1"])
        _ = try await harness.decide(large.approvalID, as: "approver2")
        #expect(try await harness.grant(large.approvalID)?.approvers == ["approver1", "approver2"])

        // Any rejection rejects: the reject link of a two-approver approval works.
        let second = try await harness.submit(Actions.transfer("15000.00"))
        let secondNotice = try await Self.notice(for: second.approvalID, in: receiver)
        #expect(secondNotice["links"]?["approve"] == nil)
        let reject = try #require(secondNotice["links"]?["reject"]?.stringValue)
        let rejectToken = String(reject.split(separator: "/").last!.split(separator: "?").first!)
        #expect(try await redeem(rejectToken, "reject").decode(as: ApprovalView.self).status == .rejected)


        // The gateway's role may redeem links and read, and nothing that decides, submits or finishes.
        await expectError("approval.decide", .permissionDenied, "ROLE_NOT_ALLOWED") {
            _ = try await harness.decide(large.approvalID, as: "gateway")
        }
        await expectError("approval.submit", .permissionDenied, "ROLE_NOT_ALLOWED") {
            _ = try await harness.call("approval.submit", as: "gateway", [
                "run_id": "r-gw", "call_id": "c1", "requested_by": "gateway", "action": .object(Actions.transfer("150.00")),
            ])
        }
        await expectError("approval.complete", .permissionDenied, "ROLE_NOT_ALLOWED") {
            _ = try await harness.call("approval.complete", as: "gateway", [
                "approval_id": .string(small.approvalID), "outcome": .object(["status": "succeeded"]),
            ])
        }
        #expect(try await harness.verifyAudit().ok)
        await harness.stop()
    }

    /// The "approval needed" notice of an approval, once it arrived (at most 10 s).
    static func notice(for approvalID: String, in receiver: WebhookReceiver) async throws -> JSONValue {
        var found: JSONValue?
        _ = try await eventually {
            found = receiver.requests.compactMap { try? JSONValue(parsing: String(decoding: $0.body, as: UTF8.self)) }
                .first { $0["type"] == "approval.requested" && $0["approval"]?["approval_id"]?.stringValue == approvalID }
            return found != nil
        }
        return try #require(found, "no notice for \(approvalID)")
    }

    @Test(arguments: DatabaseBackend.allCases) func aReceiverThatWasDownGetsTheNoticeLaterWithTheSameDeliveryID(backend: DatabaseBackend) async throws {
        let port = try LoopbackServer.reservePort()
        let home = try TestHome.make()
        let harness = try await ApprovalHarness.start(backend: backend, arguments: [
            "--webhook-url", "http://127.0.0.1:\(port)/slack", "--webhook-secret-file", try Self.secretFile(in: home),
            "--slack", "--notify-retry-initial-ms", "50",
        ], home: home)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("250.00"))
        #expect(try await Self.eventually {
            let delivery = try await Self.deliveries(harness, pending.approvalID).first
            return delivery?.state == "pending" && (delivery?.attempts ?? 0) >= 2 && delivery?.lastError != nil
        })
        let failing = try #require(try await Self.deliveries(harness, pending.approvalID).first)

        // The service restarts while the receiver is still down: the outbox is durable.
        await harness.stop(crash: true)
        let receiver = try WebhookReceiver.start(port: port)
        defer { receiver.server.stop() }
        try await harness.startAgain()
        #expect(try await Self.eventually { try await Self.deliveries(harness, pending.approvalID).first?.state == "delivered" })
        let requests = receiver.requests
        #expect(requests.count == 1, "delivered once after the outage")
        #expect(requests.allSatisfy { $0.headers["x-hitl-delivery-id"] == failing.deliveryID })
        #expect(requests.allSatisfy(Self.validSignature))
        let body = try JSONValue(parsing: String(decoding: try #require(requests.first).body, as: UTF8.self))
        let text = try #require(body["text"]?.stringValue, "a Slack-compatible body is {\"text\": ...}")
        #expect(text.contains("Approve: http://127.0.0.1:8765/links/v1."))
        #expect(text.contains("Reject: "))
        await harness.stop()
    }
}
