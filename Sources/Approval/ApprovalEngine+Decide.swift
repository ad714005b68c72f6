import Banking
import Foundation
import Logging
import RPC
import SQLiteKit

/// Deciding: votes, edits and approval with a grant.
extension ApprovalEngine {
    // MARK: decide

    func decide(_ params: DecideParams, by identity: Identity) async throws -> ApprovalView {
        try Validate.text(params.approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        try Validate.optionalText(params.reason, field: "reason", maximum: Validate.maximumReasonLength)
        if let edited = params.editedAction {
            guard params.decision == .approve else {
                throw RPCError.invalidParams(
                    field: "edited_action", "only an approval can carry an edited action; a rejection rejects the action as submitted",
                    reason: "EDIT_REQUIRES_APPROVE")
            }
            try Validate.action(edited, field: "edited_action")
        }
        guard let version = params.version else {
            throw RPCError.invalidParams(
                field: "version",
                "is required: send the version of the approval you reviewed (approval.get returns it), so an edit made meanwhile is never approved unseen",
                reason: "MISSING_FIELD")
        }
        guard version >= 1 else { throw RPCError.invalidParams(field: "version", "must be 1 or more") }
        let policy = policies.current
        if let edited = params.editedAction { try Self.requireCurrency(edited, field: "edited_action.currency", held: policy) }
        let outcome = try await change { [self] connection -> Result<ApprovalView, RPCError> in
            try decide(params, version: version, policy: policy, by: identity, connection: connection)
        }
        notifier.signal()
        return try outcome.get()
    }

    /// A failure is returned, not thrown, when this transaction must still commit
    /// (an approval found past its expiry is expired on the spot).
    func decide(
        _ params: DecideParams, version: Int64, policy: Policy, by identity: Identity, connection: any SQLConnection
    ) throws -> Result<ApprovalView, RPCError> {
        var record = try load(params.approvalID, connection: connection)
        let now = clock.now()
        if try expireIfDue(&record, now: now, connection: connection) { return .failure(Self.notDecidable(record)) }
        guard record.status == .pending else { throw Self.notDecidable(record) }
        guard identity.name != record.submittedBy else {
            throw RPCError(.permissionDenied, reason: "REQUESTER_CANNOT_DECIDE",
                "\(identity.name) submitted this action and cannot decide it; another approver must")
        }
        guard version == record.version else {
            throw RPCError(.failedPrecondition, reason: "VERSION_MISMATCH",
                "approval \(record.approvalID) is at version \(record.version) (now a \(Self.describe(record.action))), not \(version): it was edited since you reviewed it; review it again",
                details: ["version": .int(record.version), "current_action": .string(Self.describe(record.action))])
        }
        if params.decision == .approve { try Self.requireApprover(identity, on: record) }
        if let edited = params.editedAction, edited != record.action {
            try edit(&record, to: edited, policy: policy, by: identity, reason: params.reason, at: now, connection: connection)
        } else if let previous = try ApprovalStore.vote(of: identity.name, on: record, connection: connection) {
            guard previous == params.decision else {
                throw RPCError(.failedPrecondition, reason: "APPROVER_ALREADY_VOTED",
                    "\(identity.name) already voted '\(previous.rawValue)' on version \(record.version); a vote cannot be changed")
            }
            return .success(try ApprovalStore.view(record, connection: connection))  // a retry counts once
        } else {
            try vote(params.decision, on: record, by: identity, reason: params.reason, at: now, connection: connection)
        }
        switch params.decision {
        case .reject:
            record.status = .rejected
            record.reason = params.reason
            record.updatedAt = ApprovalTime.milliseconds(now)
            try ApprovalStore.update(record, on: connection)
            try ApprovalStore.appendEvent(
                "rejected", for: record, actor: identity.name, at: record.updatedAt, reason: params.reason, connection: connection)
            try audit("rejected", record, actor: identity.name, at: now, connection: connection, detail: ["reason": params.reason ?? ""])
        case .approve:
            let approvers = try ApprovalStore.approvers(of: record, connection: connection)
            if approvers.count >= record.requiredApprovers {
                try approve(&record, approvers: approvers, actor: identity.name, at: now, connection: connection)
            } else if params.editedAction != nil {
                // The edited version still needs people: tell them, with links for the new version.
                try enqueueRequested(record, connection: connection)
            }
        }
        return .success(try ApprovalStore.view(record, connection: connection))
    }

    /// Whether `identity` may approve `record`: its requester only where the deciding rule
    /// lets the requester's own approval count. (A requester may always reject, withdrawing
    /// their own request: that moves no money.)
    /// - Throws: PERMISSION_DENIED `REQUESTER_CANNOT_DECIDE`.
    static func requireApprover(_ identity: Identity, on record: ApprovalRecord) throws {
        guard identity.name != record.requestedBy || record.requesterMayApprove else {
            throw RPCError(.permissionDenied, reason: "REQUESTER_CANNOT_DECIDE",
                "\(identity.name) asked for this action, and at this tier (\(record.policyRule), \(record.requiredApprovers) approver(s)) the requester's own vote does not count; \(record.requiredApprovers == 1 ? "another approver" : "other approvers") must decide",
                details: ["policy_rule": .string(record.policyRule), "required_approvers": .int(Int64(record.requiredApprovers))])
        }
    }

    /// An approver's edit makes a new version, decided by the policy again (with the
    /// account's history); the editor's approval counts for the new version, earlier
    /// votes do not. An edit may change the amount, the payee and the memo only; one
    /// that raises the amount or changes the payee needs someone besides the editor.
    private func edit(
        _ record: inout ApprovalRecord, to action: Action, policy: Policy, by identity: Identity, reason: String?, at now: Date,
        connection: any SQLConnection
    ) throws {
        try Self.requireEditable(record.action, into: action)
        let previous = record.version
        let nowMs = ApprovalTime.milliseconds(now)
        let history = try ApprovalStore.history(
            of: action, windows: policy.windows(for: action.kind), now: nowMs, excluding: record.approvalID, connection: connection)
        let decision = policy.evaluate(action, history: history)
        var figures = decision.figures
        figures["edited_by"] = identity.name
        // A person approved the edited action, so it needs at least that one person.
        var required = max(decision.approvers, 1)
        if let why = Self.secondPersonReason(from: record.action, to: action) {
            required = max(required, 2)
            figures["second_person"] = why
        }
        if identity.name == record.requestedBy, !decision.requesterMayApprove {
            throw RPCError(.permissionDenied, reason: "REQUESTER_CANNOT_DECIDE",
                "\(identity.name) asked for this action, and the edited version falls under \(decision.rule), where the requester's own vote does not count; another approver must edit it")
        }
        record.version += 1
        record.action = action
        record.requiredApprovers = required
        record.policyVersion = decision.version
        record.policyRule = decision.rule
        record.policyFigures = figures
        record.requesterMayApprove = decision.requesterMayApprove
        record.updatedAt = nowMs
        try ApprovalStore.update(record, on: connection)
        try ApprovalStore.addVersion(record, editedBy: identity.name, on: connection)
        try ApprovalStore.appendEvent("edited", for: record, actor: identity.name, at: record.updatedAt, reason: reason, connection: connection)
        try audit("edited", record, actor: identity.name, at: now, connection: connection, detail: [
            "previous_version": "\(previous)", "required_approvers": "\(record.requiredApprovers)", "policy_rule": decision.rule,
            "policy_figures": ApprovalStore.json(figures),
        ])
        try vote(.approve, on: record, by: identity, reason: reason, at: now, connection: connection)
    }

    private func vote(
        _ decision: Decision, on record: ApprovalRecord, by identity: Identity, reason: String?, at now: Date,
        connection: any SQLConnection
    ) throws {
        try ApprovalStore.recordVote(
            decision, by: identity.name, reason: reason, on: record, at: ApprovalTime.milliseconds(now), connection: connection)
        try audit("vote", record, actor: identity.name, at: now, connection: connection, detail: [
            "decision": decision.rawValue, "reason": reason ?? "",
        ])
    }

    /// Issues the grant for the current version and marks the approval approved.
    func approve(
        _ record: inout ApprovalRecord, approvers: [String], actor: String, at now: Date, connection: any SQLConnection
    ) throws {
        precondition(record.status == .pending, "only a pending approval can be approved")
        precondition(!approvers.isEmpty, "a grant names who approved")
        let body = Grant.Body(
            grantID: Identifiers.make(prefix: "gr_", bytes: 18), approvalID: record.approvalID,
            approvalVersion: record.version, runID: record.runID, callID: record.callID, action: record.action,
            idempotencyKey: "\(record.runID):\(record.callID)", approvers: approvers, policyVersion: record.policyVersion,
            issuedAt: now, expiresAt: now.addingTimeInterval(configuration.grantTTL), keyID: signer.keyID)
        let grant = try signer.sign(body)
        precondition(grant.action == record.action, "a grant binds exactly the approved version's action")
        record.grant = grant
        record.status = .approved
        record.updatedAt = ApprovalTime.milliseconds(now)
        try ApprovalStore.update(record, on: connection)
        try ApprovalStore.appendEvent("approved", for: record, actor: actor, at: record.updatedAt, connection: connection)
        try audit("approved", record, actor: actor, at: now, connection: connection, detail: [
            "grant_id": grant.grantID, "approvers": approvers.sorted().joined(separator: ","), "grant_expires_at": grant.expiresAt,
        ])
    }

}

/// What an edit may change, and when it needs a second person.
extension ApprovalEngine {
    /// An edit keeps the kind, the account (a transfer's payer, a deposit's receiver)
    /// and the currency: an approver adjusts a request, never turns it into another one.
    /// - Throws: INVALID_ARGUMENT `EDIT_NOT_ALLOWED` naming the field.
    static func requireEditable(_ original: Action, into edited: Action) throws {
        let refuse = { (field: String, what: String) in
            RPCError.invalidParams(
                field: "edited_action.\(field)",
                "an edit may change the amount, the payee and the memo only, not \(what); reject the request and ask for a new one",
                reason: "EDIT_NOT_ALLOWED")
        }
        guard edited.kind == original.kind else { throw refuse("kind", "the kind of action (\(original.kind.rawValue))") }
        guard edited.from == original.from else { throw refuse("from", "the paying account (\(original.from ?? "none"))") }
        guard edited.kind == .transfer || edited.to == original.to else { throw refuse("to", "the account a deposit credits (\(original.to))") }
        guard edited.currency == original.currency else { throw refuse("currency", "the currency (\(original.currency))") }
    }

    /// Why an edit needs a vote from someone besides its editor: it sends more money,
    /// or sends it to someone else (nil: it does neither).
    static func secondPersonReason(from original: Action, to edited: Action) -> String? {
        if edited.to != original.to { return "the edit changed the payee (\(original.to) → \(edited.to))" }
        if edited.amount > original.amount { return "the edit raised the amount (\(original.amount) → \(edited.amount))" }
        return nil
    }
}
