import Foundation
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
    func addLinkRoutes(to router: Router<GatewayContext>) {
        for prefix in ["/a", "/links"] {
            router.get("\(prefix)/{token}") { request, context in try await self.showLink(request, context: context) }
            router.post("\(prefix)/{token}") { request, context in try await self.confirmLink(request, context: context) }
        }
    }

    func showLink(_ request: Request, context: GatewayContext) async throws -> Response {
        guard let link = LinkToken(try context.parameters.require("token")) else { return Self.invalidLink() }
        guard link.expiresAt > Date() else { return Self.expiredLink() }
        let approval: JSONValue
        do {
            approval = try await upstream.approval.call(
                "approval.get", ["approval_id": .string(link.approvalID)] as JSONValue, as: JSONValue.self,
                options: Upstream.options(context.trace, token: upstream.linkToken))
        } catch let error as RPCError where error.status == .notFound {
            return Self.invalidLink()
        } catch {
            logger.warning("link page: approval-svc did not answer", metadata: ["trace.id": "\(context.trace.traceID)", "error": "\(error)"])
            return LinkPage.response(LinkPage.problem(title: "Try again shortly", "The approval service cannot be reached right now. Nothing was decided."),
                                     status: .serviceUnavailable)
        }
        if let status = approval["status"]?.stringValue, status != "pending" {
            return Self.alreadyDecided(status)
        }
        if approval["version"]?.intValue != link.version {
            return LinkPage.response(LinkPage.problem(
                title: "This link is out of date",
                "The action was edited after this link was sent. Use the link of the newest message, or the approvals page."), status: .conflict)
        }
        let csrf = SessionStore.randomToken()
        var response = LinkPage.response(LinkPage.confirm(link, approval: approval, csrf: csrf, path: request.uri.path), status: .ok)
        response.setCookie(Cookie(name: Self.linkCSRFCookie, value: csrf, maxAge: Self.linkFormLifetime, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    private struct LinkForm: Decodable {
        let csrf: String?
        let decision: String?
    }

    func confirmLink(_ request: Request, context: GatewayContext) async throws -> Response {
        guard let link = LinkToken(try context.parameters.require("token")) else { return Self.invalidLink() }
        if (try? requireSameOrigin(request)) == nil { return Self.staleForm() }
        let body = try await self.body(request, limit: Self.maximumFormBytes)
        let form = try? URLEncodedFormDecoder().decode(LinkForm.self, from: String(decoding: body.readableBytesView, as: UTF8.self))
        guard let cookie = request.cookies[Self.linkCSRFCookie]?.value, let presented = form?.csrf,
              SessionStore.constantTimeEqual(cookie, presented)
        else { return Self.staleForm() }
        guard form?.decision == nil || form?.decision == link.decision else { return Self.invalidLink() }
        let response: Response
        do {
            let approval = try await upstream.approval.call(
                "approval.redeem_link", ["token": .string(link.token), "decision": .string(link.decision)] as JSONValue, as: JSONValue.self,
                options: Upstream.options(context.trace, idempotent: false, token: upstream.linkToken))
            logger.info("link redeemed", metadata: [
                "trace.id": "\(context.trace.traceID)", "approval.id": "\(link.approvalID)", "decision": "\(link.decision)",
            ])
            response = LinkPage.response(LinkPage.decided(approval, decision: link.decision), status: .ok)
        } catch let error as RPCError {
            response = await linkRefusal(error, link: link, context: context)
        }
        // The form's cookie stays: a resubmitted form then hears "already used" from approval-svc.
        return response
    }

    private func linkRefusal(_ error: RPCError, link: LinkToken, context: GatewayContext) async -> Response {
        switch error.reason {
        case "LINK_ALREADY_USED":
            return LinkPage.response(LinkPage.problem(
                title: "This link was already used", "A link decides once, and this one already has. Nothing else was changed."), status: .conflict)
        case "LINK_EXPIRED":
            return Self.expiredLink()
        case "LINK_INVALID", "LINK_DECISION_MISMATCH":
            return Self.invalidLink()
        default:
            if error.status == .failedPrecondition || error.status == .alreadyExists {
                let status = try? await upstream.approval.call(
                    "approval.get", ["approval_id": .string(link.approvalID)] as JSONValue, as: JSONValue.self,
                    options: Upstream.options(context.trace, token: upstream.linkToken))["status"]?.stringValue
                return Self.alreadyDecided(status ?? "decided")
            }
            logger.warning("link refused", metadata: ["trace.id": "\(context.trace.traceID)", "error": "\(error)"])
            let failure = GatewayError.from(error)
            return LinkPage.response(LinkPage.problem(title: "Nothing was decided", failure.message), status: failure.status)
        }
    }

    static func invalidLink() -> Response {
        LinkPage.response(LinkPage.problem(
            title: "This link is not valid", "It may be incomplete (copy the whole link) or not one this stack issued. Nothing was decided."),
            status: .notFound)
    }

    static func expiredLink() -> Response {
        LinkPage.response(LinkPage.problem(
            title: "This link has expired", "Approval links expire with their approval. Nothing was decided; open the approvals page instead."),
            status: .gone)
    }

    static func alreadyDecided(_ status: String) -> Response {
        LinkPage.response(LinkPage.problem(
            title: "Already decided", "This approval is \(status) already, so the link does nothing more."), status: .conflict)
    }

    static func staleForm() -> Response {
        LinkPage.response(LinkPage.problem(
            title: "Please confirm again", "This confirmation did not come from the page the link opened (or that page is over an hour old). Open the link again. Nothing was decided."),
            status: .forbidden)
    }
}
