import Foundation
import RPC
import Testing

/// The inbox's HTTP side: `GET /approvals` filtered, ordered and paged, and
/// `GET /approvals/{id}` with what an approver needs to decide.
@Suite(.serialized)
struct GatewayInboxTests {
    @Test func theInboxFiltersOrdersAndPages() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            for message in ["Transfer $150 to Alice", "Transfer $250 to Bob", "Transfer $120 to Bob"] {
                _ = try await stack.chat(client, message)
            }
            func ids(_ path: String) async throws -> [String] {
                let answer = try await client.get(path)
                #expect(answer.status == 200, "\(path): \(answer.body)")
                return array(answer.json["approvals"]).compactMap { $0["action"]?["amount"]?.stringValue }
            }
            #expect(try await ids("/approvals") == ["150.00", "250.00", "120.00"], "oldest first by default")
            #expect(try await ids("/approvals?order=newest") == ["120.00", "250.00", "150.00"])
            #expect(try await ids("/approvals?min_amount=121&max_amount=250") == ["150.00", "250.00"])
            #expect(try await ids("/approvals?q=BOB") == ["250.00", "120.00"], "search is case-insensitive, on the payee too")
            #expect(try await ids("/approvals?kind=deposit").isEmpty)
            #expect(try await ids("/approvals?requested_by=approver1&account=checking").count == 3)
            #expect(try await ids("/approvals?status=all").count == 3)

            // Paging says when there is more, and the cursor carries on in the same order.
            let first = try await client.get("/approvals?order=newest&limit=2")
            #expect(array(first.json["approvals"]).count == 2)
            let cursor = try #require(first.json["next_cursor"]?.stringValue)
            let rest = try await client.get("/approvals?order=newest&limit=2&cursor=\(cursor)")
            #expect(array(rest.json["approvals"]).compactMap { $0["action"]?["amount"]?.stringValue } == ["150.00"])
            #expect(rest.json["next_cursor"] == nil, "the last page says there is no more")
            let expiry = try await client.get("/approvals?order=expiry&limit=1")
            #expect(array(expiry.json["approvals"]).count == 1 && expiry.json["next_cursor"] != nil)
        }
    }

    @Test func badFiltersAnswer400WithTheFieldAndWhatItTakes() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            let cases: [(String, String, String)] = [
                ("/approvals?min_amount=lots", "min_amount", "INVALID_AMOUNT"),
                ("/approvals?min_amount=20&max_amount=10", "max_amount", "INVALID_FIELD"),
                ("/approvals?limit=101", "limit", "INVALID_FIELD"),
                ("/approvals?limit=0", "limit", "INVALID_FIELD"),
                ("/approvals?kind=wire", "kind", "INVALID_FIELD"),
                ("/approvals?order=random", "order", "INVALID_PARAMS"),
                ("/approvals?status=maybe", "status", "INVALID_FIELD"),
                ("/approvals?cursor=zzz", "cursor", "INVALID_CURSOR"),
                ("/approvals?order=newest&cursor=c5", "cursor", "INVALID_CURSOR"),
            ]
            for (path, field, reason) in cases {
                let answer = try await client.get(path)
                #expect(answer.status == 400, "\(path) answered \(answer.status): \(answer.body)")
                let message = answer.json["error"]?["message"]?.stringValue ?? ""
                #expect(message.contains(field), "\(path): the message names \(field): \(message)")
                if reason != "INVALID_PARAMS" { #expect(answer.reason == reason, "\(path): \(answer.reason ?? "no reason")") }
                #expect(!message.contains("Cannot initialize"), "\(path): decoder text leaked: \(message)")
            }
        }
    }

    @Test func oneApprovalComesWithItsContext() async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            let events = try await stack.chat(client, "Transfer $150 to Alice")
            let approvalID = try #require(events.required?.data["approval_id"]?.stringValue)
            let detail = try await client.get("/approvals/\(approvalID)")
            #expect(detail.status == 200, "\(detail.body)")
            #expect(detail.json["approval"]?["approval_id"]?.stringValue == approvalID)
            #expect(detail.json["approval"]?["grant"] == nil)
            #expect(array(detail.json["audit"]).first?["step"]?.stringValue == "submitted")
            #expect(detail.json["balance"]?["account"]?.stringValue == "checking")
            #expect(detail.json["balance"]?["held"]?.stringValue == "150.00", "the paying account shows what this request holds")
            #expect(detail.json["run"]?["status"]?.stringValue == "awaiting_approval")
            let transcript = array(detail.json["transcript"]).compactMap { $0["type"]?.stringValue }
            #expect(transcript.first == "run_started" && transcript.contains("approval_required"), "\(transcript)")

            // The same address in a browser is the page.
            let page = try await client.get("/approvals/\(approvalID)", headers: [("Accept", "text/html,application/xhtml+xml")])
            #expect(page.status == 200 && page.headers["Content-Type"].first?.hasPrefix("text/html") == true)

            // The run's page data, and the audit log of a period with the chain's verdict.
            let runID = try #require(detail.json["approval"]?["run_id"]?.stringValue)
            let story = try await client.get("/runs/\(runID)/transcript")
            #expect(story.status == 200, "\(story.body)")
            #expect(array(story.json["approvals"]).first?["approval_id"]?.stringValue == approvalID)
            #expect(array(story.json["approvals"]).first?["grant"] == nil)
            #expect(array(story.json["transcript"]).first?["message"]?.stringValue == "Transfer $150 to Alice", "run_started carries the person's words")
            #expect(try await client.get("/runs/run_nope/transcript").status == 404)
            let audit = try await client.get("/audit?since=2000-01-01T00:00:00Z")
            #expect(audit.status == 200, "\(audit.body)")
            #expect(audit.json["verification"]?["ok"] == .bool(true))
            #expect(array(audit.json["records"]).contains { $0["approval_id"]?.stringValue == approvalID })
            #expect(array(try await client.get("/audit?until=2000-01-01T00:00:00Z").json["records"]).isEmpty, "nothing before 2000")
            let badTime = try await client.get("/audit?since=yesterday")
            #expect(badTime.status == 400 && (badTime.json["error"]?["message"]?.stringValue ?? "").contains("since"), "\(badTime.body)")
            #expect(try await client.get("/audit?since=2026-12-08T00:00:00Z&until=2026-12-07T00:00:00Z").status == 400)
            #expect(try await client.get("/audit?after_seq=-1").status == 400)

            let unknown = try await client.get("/approvals/ap_nope")
            #expect(unknown.status == 404, "\(unknown.body)")
            #expect(try await client.get("/approvals/bad%20id").status == 400)
        }
    }
}
