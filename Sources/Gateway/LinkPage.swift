import Foundation
import Hummingbird
import RPC

/// The server-rendered pages of approve/reject links: plain HTML and a form,
/// no script, so they work in any browser and a mail client's preview.
enum LinkPage {
    /// The confirmation page: what the link would do, and one button that does it.
    /// `approveByLink` is false when the approval needs several people, so the
    /// message has no approve link and approving happens on the signed-in page.
    static func confirm(_ link: LinkToken, approval: JSONValue, csrf: String, path: String, approveByLink: Bool) -> String {
        let approve = link.decision == "approve"
        let verb = approve ? "Approve" : "Reject"
        let instead = approve
            ? "To reject instead, use the Reject link from the same message."
            : approveByLink ? "To approve instead, use the Approve link from the same message."
            : "To approve instead, sign in to the approvals page: this one needs more than one approver."
        return document(title: "\(verb) this transfer?", body: """
            <p class="eyebrow">Approval \(escape(link.approvalID))</p>
            <h1>\(verb) this \(escape(approval["action"]?["kind"]?.stringValue ?? "action"))?</h1>
            \(actionCard(approval))
            <form method="post" action="\(escape(path))" class="link-form">
              <input type="hidden" name="csrf" value="\(escape(csrf))">
              <input type="hidden" name="decision" value="\(escape(link.decision))">
              <button type="submit" id="confirm" class="button \(approve ? "approve" : "reject")">\(verb)</button>
              <a class="button quiet" href="/">Not now</a>
            </form>
            <p class="hint">Nothing happens until you press \(verb). This link works once and expires \
            \(escape(approval["expires_at"]?.stringValue ?? "")). \
            \(instead)</p>
            """)
    }

    /// The page after the decision was recorded.
    static func decided(_ approval: JSONValue, decision: String) -> String {
        let approved = decision == "approve"
        return document(title: approved ? "Approved" : "Rejected", body: """
            <p class="eyebrow">Approval \(escape(approval["approval_id"]?.stringValue ?? ""))</p>
            <h1 id="outcome" class="\(approved ? "ok" : "bad")">\(approved ? "Approved" : "Rejected")</h1>
            \(actionCard(approval))
            <p>\(approved
                ? "Thank you. The agent carries out the transfer now; a completion notice follows."
                : "Thank you. Nothing moves; the agent is told the transfer was rejected.")</p>
            <p><a class="button quiet" href="/">Open the approvals page</a></p>
            """)
    }

    /// A page that says why the link does nothing (used, expired, invalid, decided).
    static func problem(title: String, _ message: String) -> String {
        document(title: title, body: """
            <h1 id="outcome" class="bad">\(escape(title))</h1>
            <p>\(escape(message))</p>
            <p><a class="button quiet" href="/">Open the approvals page</a></p>
            """)
    }

    static func actionCard(_ approval: JSONValue) -> String {
        let action = approval["action"] ?? .null
        let amount = Money.display(action["amount"]?.stringValue ?? "?", currency: action["currency"]?.stringValue ?? "")
        let source = action["from"]?.stringValue.map { "<dt>From</dt><dd>\(escape($0))</dd>" } ?? ""
        return """
            <dl class="action-card">
              <dt>Amount</dt><dd class="amount">\(escape(amount))</dd>
              <dt>To</dt><dd class="recipient">\(escape(action["to"]?.stringValue ?? "?"))</dd>
              \(source)
              <dt>Requested by</dt><dd>\(escape(approval["requested_by"]?.stringValue ?? "?"))</dd>
              <dt>Status</dt><dd class="status">\(escape(approval["status"]?.stringValue ?? "?"))</dd>
            </dl>
            """
    }

    static func document(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <meta name="robots" content="noindex">
          <title>\(escape(title)) · hitl</title>
          <link rel="stylesheet" href="/app.css">
        </head>
        <body class="link-page">
          <main class="panel narrow">
            <p class="brand">hitl <span>human in the loop</span></p>
            \(body)
          </main>
        </body>
        </html>

        """
    }

    /// HTML-escapes text for element content and quoted attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func response(_ html: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}

/// Amounts as people read them: `$1,250.50`. Works on the decimal string, never a float.
enum Money {
    static func display(_ amount: String, currency: String) -> String {
        let negative = amount.hasPrefix("-")
        let digits = negative ? String(amount.dropFirst()) : amount
        let parts = digits.split(separator: ".", maxSplits: 1)
        var whole = String(parts.first ?? "0")
        var grouped = ""
        while whole.count > 3 {
            grouped = "," + whole.suffix(3) + grouped
            whole.removeLast(3)
        }
        grouped = whole + grouped
        let fraction = parts.count > 1 ? String(parts[1]).padding(toLength: 2, withPad: "0", startingAt: 0) : "00"
        let number = "\(grouped).\(fraction)"
        let sign = negative ? "-" : ""
        return currency == "USD" ? "\(sign)$\(number)" : "\(sign)\(number) \(currency)"
    }
}
