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
        if let version = params.version, version < 1 {
            throw RPCError.invalidParams(field: "version", "must be 1 or more")
        }
        let outcome = try await database.write { [self] connection -> Result<ApprovalView, RPCError> in
            try decide(params, by: identity, connection: connection)
        }
        notifier.signal()
        return try outcome.get()
    }

    /// A failure is returned, not thrown, when this transaction must still commit
    /// (an approval found past its expiry is expired on the spot).
    func decide(
        _ params: DecideParams, by identity: Identity, connection: SQLiteConnection
    ) throws -> Result<ApprovalView, RPCError> {
        var record = try load(params.approvalID, connection: connection)
        let now = clock.now()
        if try expireIfDue(&record, now: now, connection: connection) { return .failure(Self.notDecidable(record)) }
        guard record.status == .pending else { throw Self.notDecidable(record) }
        guard identity.name != record.submittedBy, identity.name != record.requestedBy else {
            throw RPCError(.permissionDenied, reason: "REQUESTER_CANNOT_DECIDE",
                "\(identity.name) requested this action and cannot decide it; another approver must")
        }
        if let version = params.version, version != record.version {
            throw RPCError(.failedPrecondition, reason: "VERSION_MISMATCH",
                "approval \(record.approvalID) is at version \(record.version), not \(version): it was edited; review it again",
                details: ["version": .int(record.version)])
        }
        if let edited = params.editedAction, edited != record.action {
            try edit(&record, to: edited, by: identity, reason: params.reason, at: now, connection: connection)
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

    /// An approver's edit makes a new version, decided by the policy again; the
    /// editor's approval counts for the new version, earlier votes do not.
    private func edit(
        _ record: inout ApprovalRecord, to action: Action, by identity: Identity, reason: String?, at now: Date,
        connection: SQLiteConnection
    ) throws {
        let previous = record.version
        let decision = policy.evaluate(action)
        record.version += 1
        record.action = action
        // A person approved the edited action, so it needs at least that one person.
        record.requiredApprovers = max(decision.approvers, 1)
        record.policyVersion = decision.version
        record.policyRule = decision.rule
        record.updatedAt = ApprovalTime.milliseconds(now)
        try ApprovalStore.update(record, on: connection)
        try ApprovalStore.addVersion(record, editedBy: identity.name, on: connection)
        try ApprovalStore.appendEvent("edited", for: record, actor: identity.name, at: record.updatedAt, reason: reason, connection: connection)
        try audit("edited", record, actor: identity.name, at: now, connection: connection, detail: [
            "previous_version": "\(previous)", "required_approvers": "\(record.requiredApprovers)", "policy_rule": decision.rule,
        ])
        try vote(.approve, on: record, by: identity, reason: reason, at: now, connection: connection)
    }

    private func vote(
        _ decision: Decision, on record: ApprovalRecord, by identity: Identity, reason: String?, at now: Date,
        connection: SQLiteConnection
    ) throws {
        try ApprovalStore.recordVote(
            decision, by: identity.name, reason: reason, on: record, at: ApprovalTime.milliseconds(now), connection: connection)
        try audit("vote", record, actor: identity.name, at: now, connection: connection, detail: [
            "decision": decision.rawValue, "reason": reason ?? "",
        ])
    }

    /// Issues the grant for the current version and marks the approval approved.
    func approve(
        _ record: inout ApprovalRecord, approvers: [String], actor: String, at now: Date, connection: SQLiteConnection
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
