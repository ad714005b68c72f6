import Approval
import Crypto
import Foundation
import RPC
import RPCTesting
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

    @Test func webhookAndEmailCarrySignedSingleUseLinks() async throws {
        let receiver = try WebhookReceiver.start()
        let sink = try SMTPSink.start()
        defer { receiver.server.stop(); sink.server.stop() }
        let home = try TestHome.make()
        let harness = try await ApprovalHarness.start(arguments: [
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
        #expect(approveLink.hasPrefix("https://gateway.example/links/v1."))
        let mail = try #require(sink.messages.first)
        #expect(mail.contains("Subject: Approval needed: transfer of 150.00 USD from checking to alice"))
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

        // Links fill at most one approver's place: the two-approver tier still needs a person.
        let large = try await harness.submit(Actions.transfer("20000.00"))
        #expect(try await Self.eventually { receiver.requests.count == 3 && sink.messages.count == 3 })
        let largeBody = try JSONValue(parsing: String(decoding: receiver.requests[2].body, as: UTF8.self))
        let webhookApprove = try #require(largeBody["links"]?["approve"]?.stringValue)
        let mailApprove = try #require(sink.messages[2].split(separator: "\n").first { $0.hasPrefix("Approve: ") }?.dropFirst(9))
        let first = try await redeem(token(webhookApprove), "approve", "operator").decode(as: ApprovalView.self)
        #expect(first.status == .pending)
        #expect(first.approvedBy == ["link"])
        let second = try await redeem(token(String(mailApprove)), "approve", "operator").decode(as: ApprovalView.self)
        #expect(second.status == .pending, "a second link counts as the same approver")
        let decided = try await harness.decide(large.approvalID, as: "approver1")
        #expect(decided.status == .approved)
        #expect(decided.grant?.approvers == ["approver1", "link"])
        #expect(try await harness.verifyAudit().ok)
        await harness.stop()
    }

    @Test func aReceiverThatWasDownGetsTheNoticeLaterWithTheSameDeliveryID() async throws {
        let port = try LoopbackServer.reservePort()
        let home = try TestHome.make()
        let harness = try await ApprovalHarness.start(arguments: [
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
