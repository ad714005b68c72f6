import Foundation
import RPC
import RPCTesting
import Testing

/// The approval page in headless Chromium (Debian's chromium and
/// chromium-driver, driven by Selenium from scripts/browser/approval_flow.py),
/// against the whole stack. Screenshots of every state go to
/// artifacts/browser/ in the repository (git-ignored).
@Suite(.serialized, .timeLimit(.minutes(8)))
struct BrowserTests {
    @Test func approveAndRejectOnThePage() async throws {
        try await GatewayStack.with { stack in
            let token = try stack.home.token("approver1")
            try runFlow(["--url", "http://127.0.0.1:\(stack.port)", "--token=\(token)", "--flow", "approve", "--expect-balance", "$850.00"])
            #expect(try await stack.posted("alice") == "150.00")
            try runFlow(["--url", "http://127.0.0.1:\(stack.port)", "--token=\(token)", "--flow", "reject", "--expect-balance", "$850.00"])
            #expect(try await stack.posted("alice") == "150.00")
            #expect(try await stack.posted("checking") == "850.00")
        }
    }

    /// Pattern 2: a notification's link, opened and confirmed in the browser,
    /// approves the transfer; the run completes and a completion notice arrives. On a
    /// desktop and on a 375 px phone, where no page may scroll sideways.
    @Test(arguments: [1280, 375]) func aNotificationLinkApprovesInTheBrowser(width: Int) async throws {
        try await GatewayStack.with { stack in
            let client = try await stack.signedInClient()
            let required = try #require(try await stack.chat(client, "Transfer $150 to Alice").required)
            let approvalID = try #require(required.data["approval_id"]?.stringValue)
            let runID = try #require(required.data["run_id"]?.stringValue)
            let link = try await stack.link("approve", for: approvalID)
            try runFlow(["--url", "http://127.0.0.1:\(stack.port)", "--flow", "link", "--link", link, "--width", "\(width)"])
            #expect(try await stack.waitForRun(runID, status: "completed")["status"]?.stringValue == "completed")
            #expect(try await stack.posted("alice") == "150.00")
            let notice = try await stack.webhook.wait(for: "approval.completed") {
                $0["type"]?.stringValue == "approval.completed" && $0["approval"]?["approval_id"]?.stringValue == approvalID
            }
            #expect(notice["text"]?.stringValue?.hasPrefix("Completed:") == true)
            #expect(try await stack.approval(approvalID)["approved_by"] == ["link"])
            // The notice's page link opens the approval's own page (after signing in).
            let requested = try await stack.webhook.wait(for: "approval.requested for \(approvalID)") {
                $0["type"]?.stringValue == "approval.requested" && $0["approval"]?["approval_id"]?.stringValue == approvalID
            }
            let page = try #require(requested["links"]?["page"]?.stringValue)
            #expect(page.hasSuffix("/approvals/\(approvalID)"))
            try runFlow([
                "--url", "http://127.0.0.1:\(stack.port)", "--token=\(try stack.home.token("approver1"))", "--flow", "page",
                "--link", page, "--expect-status", "completed", "--width", "\(width)",
            ])
        }
    }

    /// A click counts only for the version the page showed: approver2 edits the
    /// transfer while approver1's page still shows the old one; approver1's click
    /// decides nothing, the page says so and shows the new version, and approver1
    /// rejects that.
    @Test func aClickOnAnEditedApprovalDecidesNothingAndShowsTheNewVersion() async throws {
        try await GatewayStack.with { stack in
            try runFlow([
                // `--token=`: a token may begin with '-', which argparse would take for an option.
                "--url", "http://127.0.0.1:\(stack.port)", "--token=\(try stack.home.token("approver1"))",
                "--token2=\(try stack.home.token("approver2"))", "--flow", "stale", "--expect-balance", "$1,000.00",
            ])
            let client = try stack.home.client("approval")
            let rejected = try await client.call("approval.list", ["status": "rejected"] as JSONValue, as: JSONValue.self)
            await client.close()
            let approval = try #require(rejected["approvals"]?.arrayValues?.first)
            #expect(approval["version"]?.intValue == 2)
            #expect(approval["action"]?["amount"]?.stringValue == "12000.00")
            #expect(try await stack.posted("alice") == "0.00")
            #expect(try await stack.posted("checking") == "1000.00")
        }
    }

    /// The inbox, at a desktop's width and a phone's: newest first, search and amount
    /// filters (a bad amount shows its error, not "Nothing waits for you"), an edit by
    /// approver2 shown to approver1 as a diff on the approval's page with the person's
    /// words and the history, approved there until the run completes; a reject that
    /// needs a reason, which the agent repeats; both found in the history filters; a
    /// tool's error not shown as a success, the structured plan in words; axe-core finds
    /// no serious or critical violation; at 375 px the header fits.
    @Test(arguments: [1280, 375])
    func theInboxAndAnApprovalsPage(width: Int) async throws {
        try await GatewayStack.with { stack in
            try runFlow([
                "--url", "http://127.0.0.1:\(stack.port)", "--token=\(try stack.home.token("approver1"))",
                "--token2=\(try stack.home.token("approver2"))", "--flow", "inbox", "--width", String(width),
            ])
            #expect(try await stack.posted("bob") == "140.00", "the edited version ran, once")
            #expect(try await stack.posted("alice") == "110.00", "only the transfer approved from the keyboard reached alice")
            let client = try stack.home.client("approval")
            let rejected = try await client.call("approval.list", ["status": "rejected"] as JSONValue, as: JSONValue.self)
            await client.close()
            #expect(rejected["approvals"]?.arrayValues?.first?["reason"]?.stringValue == "Bob is paid on Fridays")
        }
    }

    /// Runs the Selenium script; its output is attached to the failure.
    private func runFlow(_ arguments: [String]) throws {
        let artifacts = repositoryRoot.appendingPathComponent("artifacts/browser").path
        let python = ProcessInfo.processInfo.environment["HITL_BROWSER_PYTHON"]
            ?? repositoryRoot.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("no Python with Selenium at \(python): run scripts/test, which installs chromium, chromium-driver and selenium")
            return
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("browser-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let log = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [repositoryRoot.appendingPathComponent("scripts/browser/approval_flow.py").path] + arguments + ["--artifacts", artifacts]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        process.waitUntilExit()
        try log.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "the browser flow failed:\n\(text)")
    }
}
