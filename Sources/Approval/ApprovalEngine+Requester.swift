import Banking
import RPC

/// Who may ask, and with which accounts and currencies.
extension ApprovalEngine {
    /// The requester is the person on whose behalf the agent acts: a person of this
    /// stack (never the agent or the gateway) who owns the account the action uses
    /// (a transfer's payer, a deposit's receiver).
    /// - Throws: PERMISSION_DENIED `REQUESTER_NOT_A_PERSON` or `ACCOUNT_NOT_OWNED`.
    func requireRequester(_ name: String, owning action: Action) throws {
        guard let person = identities.identity(named: name), person.isPerson else {
            throw RPCError(
                .permissionDenied, reason: "REQUESTER_NOT_A_PERSON",
                "requested_by '\(name.prefix(64))' is not a person of this stack: name the identity (role \(Identity.personRoles.sorted().joined(separator: ", "))) on whose behalf the action is asked",
                details: ["requested_by": .string(String(name.prefix(64)))])
        }
        guard person.owns(action.account) else {
            throw RPCError(
                .permissionDenied, reason: "ACCOUNT_NOT_OWNED",
                "\(name) does not own account '\(action.account)'; an action may only use its requester's own accounts (identities[].accounts in compose/stack.json)",
                details: ["requested_by": .string(name), "account": .string(action.account)])
        }
    }

    /// An action in a currency the books do not hold could be approved but never
    /// executed: refused before anyone is asked.
    /// - Throws: INVALID_ARGUMENT `CURRENCY_NOT_HELD` naming `field`.
    static func requireCurrency(_ action: Action, field: String, held policy: Policy) throws {
        guard policy.currencies.contains(action.currency) else {
            throw RPCError.invalidParams(
                field: field, "\(action.currency) is not a currency the books hold (\(policy.currencies.sorted().joined(separator: ", ")))",
                reason: "CURRENCY_NOT_HELD")
        }
    }
}
