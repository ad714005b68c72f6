import Foundation
import Hummingbird
import RPC

extension Gateway {
    /// Statuses `GET /approvals?status=` accepts (approval-svc's Status).
    static let approvalStatuses: Set = ["pending", "approved", "rejected", "expired", "cancelled", "completed"]

    /// `GET /approvals` (pending unless `?status=`), `GET /balance`.
    func addApprovalRoutes(to router: Routes) {
        router.get("/approvals") { request, context in
            let session = try self.requireSession(request)
            let status = request.uri.queryParameters["status"].map(String.init) ?? "pending"
            guard Self.approvalStatuses.contains(status) else {
                throw GatewayError.invalid("status", "must be one of \(Self.approvalStatuses.sorted().joined(separator: ", "))")
            }
            let page = try await self.call { try await self.upstream.approval.call(
                "approval.list", ["status": .string(status), "limit": 100] as JSONValue, as: JSONValue.self,
                options: Upstream.options(context.trace, token: session.token)) }
            guard case .array(let approvals)? = page["approvals"] else { throw GatewayError.from(RPCError.internalError()) }
            // Grants are for the ledger, not for browsers.
            let trimmed = approvals.map { approval -> JSONValue in
                guard case .object(var fields) = approval else { return approval }
                fields["grant"] = nil
                return .object(fields)
            }
            return JSONResponse.make(["approvals": .array(trimmed), "now": .string(Self.timestamp(Date()))])
        }
        router.get("/balance") { request, context in
            let session = try self.requireSession(request)
            guard let account = session.account else {
                throw GatewayError(.notFound, code: "NOT_FOUND", reason: "NO_ACCOUNT",
                                   "\(session.approver) owns no account; list it under identities[].accounts in compose/stack.json")
            }
            let balance = try await self.call { try await self.upstream.ledger.call(
                "ledger.balance", ["account": .string(account)] as JSONValue, as: JSONValue.self,
                options: Upstream.options(context.trace)) }
            return JSONResponse.make(balance)
        }
    }

    /// RFC 3339 UTC with milliseconds, as the services write times.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
