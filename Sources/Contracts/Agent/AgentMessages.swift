import Banking

// agent-svc's answers as every client reads them (`RunResult` in
// Protocols/agent.openrpc.json): the gateway, `hitl`, the crash test and the tests
// decode this one type.

/// What the caller gets back from agent.chat and agent.resume.
public struct RunResult: Codable, Sendable {
    public var runID: String
    public var status: String
    public var reply: String?
    public var pending: [PendingView]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case status, reply, pending
    }

    /// - Parameters: the wire fields.
    public init(runID: String, status: String, reply: String?, pending: [PendingView]) {
        self.runID = runID
        self.status = status
        self.reply = reply
        self.pending = pending
    }
}

/// A pending approval as the caller sees it.
public struct PendingView: Codable, Sendable {
    public var approvalID: String
    public var callID: String
    public var action: Action
    public var holdID: String?

    enum CodingKeys: String, CodingKey {
        case approvalID = "approval_id"
        case callID = "call_id"
        case action
        case holdID = "hold_id"
    }

    /// - Parameters: the wire fields.
    public init(approvalID: String, callID: String, action: Action, holdID: String?) {
        self.approvalID = approvalID
        self.callID = callID
        self.action = action
        self.holdID = holdID
    }
}
