import Foundation
import HTTPTypes
import Hummingbird
import RPC

extension Gateway {
    /// The cookie of the link confirmation form (double-submit CSRF token).
    static let linkCSRFCookie = "hitl_link_csrf"
    /// A confirmation form is good for this long after the page was opened.
    static let linkFormLifetime = 3_600
    /// The largest confirmation form body: a CSRF token and a decision.
    static let maximumFormBytes = 4_096

    /// `GET /a/{token}` shows what a link would do; only `POST /a/{token}` from
    /// that page decides, so mail scanners that prefetch links approve nothing.
    /// approval-svc's notices point at `/links/{token}`: the same pages answer there.
    /// A link that does nothing answers with a page, or with the JSON error body
    /// to a client that asks for JSON (see ``LinkProblem``).
    func addLinkRoutes(to router: Routes) {
        for prefix in ["/a", "/links"] {
            router.get("\(prefix)/{token}") { request, context in
                do { return try await self.showLink(request, context: context) } catch let problem as LinkProblem {
                    return problem.response(for: request)
                }
            }
            router.post("\(prefix)/{token}") { request, context in
                do { return try await self.confirmLink(request, context: context) } catch let problem as LinkProblem {
                    return problem.response(for: request)
                }
            }
        }
    }

    func showLink(_ request: Request, context: GatewayContext) async throws -> Response {
        guard let link = LinkToken(try context.parameters.require("token")) else { throw LinkProblem.invalid }
        guard link.expiresAt > Date() else { throw LinkProblem.expired }
        let token = try linkToken(context)
        // approval-svc checks the signature and its record of the link before it says
        // anything about the approval: a forged token learns nothing.
        let approval = try await previewedApproval(link, token: token, context: context)
        if let status = approval["status"]?.stringValue, status != "pending" {
            throw LinkProblem.alreadyDecided(status)
        }
        if approval["version"]?.intValue != link.version {
            throw LinkProblem(.conflict, code: "FAILED_PRECONDITION", reason: "LINK_OUT_OF_DATE", title: "This link is out of date",
                              "The action was edited after this link was sent. Use the link of the newest message, or the approvals page.")
        }
        let required = approval["required_approvers"]?.intValue ?? 1
        if link.decision == "approve" && required > 1 {
            throw LinkProblem.needsSignIn(approvers: required)
        }
        let csrf = SessionStore.randomToken()
        var response = LinkPage.response(
            LinkPage.confirm(link, approval: approval, csrf: csrf, path: request.uri.path, approveByLink: required <= 1), status: .ok)
        response.setCookie(Cookie(name: Self.linkCSRFCookie, value: csrf, maxAge: Self.linkFormLifetime, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    private struct LinkForm: Decodable {
        let csrf: String?
        let decision: String?
    }

    func confirmLink(_ request: Request, context: GatewayContext) async throws -> Response {
        guard let link = LinkToken(try context.parameters.require("token")) else { throw LinkProblem.invalid }
        if (try? requireSameOrigin(request)) == nil { throw LinkProblem.staleForm }
        let body = try await self.body(request, limit: Self.maximumFormBytes)
        let form = try? URLEncodedFormDecoder().decode(LinkForm.self, from: String(decoding: body.readableBytesView, as: UTF8.self))
        guard let cookie = request.cookies[Self.linkCSRFCookie]?.value, let presented = form?.csrf,
              SessionStore.constantTimeEqual(cookie, presented)
        else { throw LinkProblem.staleForm }
        guard form?.decision == nil || form?.decision == link.decision else { throw LinkProblem.invalid }
        let token = try linkToken(context)
        do {
            let approval = try await upstream.approval.call(
                "approval.redeem_link", ["token": .string(link.token), "decision": .string(link.decision)] as JSONValue, as: JSONValue.self,
                options: Upstream.options(context.trace, idempotent: false, token: token))
            logger.info("link redeemed", metadata: [
                "trace.id": "\(context.trace.traceID)", "approval.id": "\(link.approvalID)", "decision": "\(link.decision)",
            ])
            // The form's cookie stays: a resubmitted form then hears "already used" from approval-svc.
            return LinkPage.response(LinkPage.decided(approval, decision: link.decision), status: .ok)
        } catch let error as RPCError {
            throw await linkRefusal(error, link: link, token: token, context: context)
        }
    }

    /// The approval a link is for, once approval-svc has checked the link (signature,
    /// record, expiry); a used link is refused here.
    private func previewedApproval(_ link: LinkToken, token: String, context: GatewayContext) async throws -> JSONValue {
        let preview: JSONValue
        do {
            preview = try await upstream.approval.call(
                "approval.preview_link", ["token": .string(link.token)] as JSONValue, as: JSONValue.self,
                options: Upstream.options(context.trace, token: token))
        } catch let error as RPCError where error.reason == "LINK_INVALID" || error.status == .notFound {
            throw LinkProblem.invalid
        } catch let error as RPCError where error.reason == "LINK_EXPIRED" {
            throw LinkProblem.expired
        } catch {
            logger.warning("link page: approval-svc did not answer", metadata: ["trace.id": "\(context.trace.traceID)", "error": "\(error)"])
            throw LinkProblem.unavailable
        }
        guard let approval = preview["approval"] else { throw LinkProblem.unavailable }
        if preview["used"] == .bool(true), approval["status"]?.stringValue == "pending" { throw LinkProblem.alreadyUsed }
        return approval
    }

    /// The gateway's own token (``GatewayConfiguration/identity``), or a 503 that says how to get one.
    private func linkToken(_ context: GatewayContext) throws -> String {
        do {
            return try upstream.linkToken()
        } catch {
            logger.error("links cannot be redeemed: the link identity has no token", metadata: [
                "trace.id": "\(context.trace.traceID)", "error": "\(error)",
            ])
            throw LinkProblem(.serviceUnavailable, code: "UNAVAILABLE", reason: "LINK_IDENTITY_MISSING", title: "Links are not set up",
                              "This gateway has no identity to redeem links with (run `hitl init` or restart the stack). Nothing was decided; use the approvals page.")
        }
    }

    private func linkRefusal(_ error: RPCError, link: LinkToken, token: String, context: GatewayContext) async -> LinkProblem {
        switch error.reason {
        case "LINK_ALREADY_USED":
            return .alreadyUsed
        case "LINK_EXPIRED":
            return .expired
        case "LINK_INVALID", "LINK_DECISION_MISMATCH":
            return .invalid
        case "LINK_NEEDS_SIGN_IN":
            return .needsSignIn(approvers: error.details["required_approvers"]?.intValue ?? 2)
        case "VERSION_MISMATCH":
            return LinkProblem(.conflict, code: "FAILED_PRECONDITION", reason: "LINK_OUT_OF_DATE", title: "This link is out of date",
                               "The action was edited after this link was sent. Nothing was decided; use the link of the newest message, or the approvals page.")
        default:
            if error.status == .failedPrecondition || error.status == .alreadyExists {
                let status = try? await upstream.approval.call(
                    "approval.preview_link", ["token": .string(link.token)] as JSONValue, as: JSONValue.self,
                    options: Upstream.options(context.trace, token: token))["approval"]?["status"]?.stringValue
                return .alreadyDecided(status ?? "decided", reason: error.reason)
            }
            logger.warning("link refused", metadata: ["trace.id": "\(context.trace.traceID)", "error": "\(error)"])
            let failure = GatewayError.from(error)
            return LinkProblem(failure.status, code: failure.code, reason: failure.reason, title: "Nothing was decided", failure.message)
        }
    }
}

/// Why a link does nothing: a page for people (the default) or, to a client
/// whose `Accept` asks for JSON and not HTML, the usual `{"error": {...}}` body.
/// Either way with the same HTTP status and a stable reason.
struct LinkProblem: Error, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let reason: String
    let title: String
    let message: String

    init(_ status: HTTPResponse.Status, code: String, reason: String, title: String, _ message: String) {
        self.status = status
        self.code = code
        self.reason = reason
        self.title = title
        self.message = message
    }

    func response(for request: Request) -> Response {
        guard Self.wantsJSON(request.headers[.accept]) else {
            return LinkPage.response(LinkPage.problem(title: title, message), status: status)
        }
        return JSONResponse.make(GatewayError(status, code: code, reason: reason, message).body, status: status)
    }

    /// JSON only when asked for and HTML is not: browsers and mail clients get pages.
    static func wantsJSON(_ accept: String?) -> Bool {
        guard let accept = accept?.lowercased() else { return false }
        return accept.contains("application/json") && !accept.contains("text/html")
    }

    static let invalid = LinkProblem(
        .notFound, code: "NOT_FOUND", reason: "LINK_INVALID", title: "This link is not valid",
        "It may be incomplete (copy the whole link) or not one this stack issued. Nothing was decided.")

    static let expired = LinkProblem(
        .gone, code: "FAILED_PRECONDITION", reason: "LINK_EXPIRED", title: "This link has expired",
        "Approval links expire with their approval. Nothing was decided; open the approvals page instead.")

    static let unavailable = LinkProblem(
        .serviceUnavailable, code: "UNAVAILABLE", reason: "APPROVAL_UNAVAILABLE", title: "Try again shortly",
        "The approval service cannot be reached right now. Nothing was decided.")

    static let alreadyUsed = LinkProblem(
        .conflict, code: "FAILED_PRECONDITION", reason: "LINK_ALREADY_USED", title: "This link was already used",
        "A link decides once, and this one already has. Nothing else was changed.")

    static let staleForm = LinkProblem(
        .forbidden, code: "PERMISSION_DENIED", reason: "LINK_FORM_STALE", title: "Please confirm again",
        "This confirmation did not come from the page the link opened (or that page is over an hour old). Open the link again. Nothing was decided.")

    static func alreadyDecided(_ status: String, reason: String = "ALREADY_DECIDED") -> LinkProblem {
        LinkProblem(.conflict, code: "FAILED_PRECONDITION", reason: reason, title: "Already decided",
                    "This approval is \(status) already, so the link does nothing more.")
    }

    /// An approve link of an approval that needs several people: a link is not a person.
    static func needsSignIn(approvers: Int64) -> LinkProblem {
        LinkProblem(.conflict, code: "FAILED_PRECONDITION", reason: "LINK_NEEDS_SIGN_IN", title: "Sign in to approve this one",
                    "This transfer needs \(approvers) different approvers, and a link cannot count as one of them. "
                        + "Nothing was decided. Sign in to the approvals page with your approver token to approve it there.")
    }
}
