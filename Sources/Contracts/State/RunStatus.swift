import Wire

/// Where a run stands. `completed`, `failed` and `cancelled` are final.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case running
    case awaitingApproval = "awaiting_approval"
    case completed
    case failed
    case cancelled

    /// True for the statuses a run can never leave.
    public var isTerminal: Bool {
        switch self {
        case .running, .awaitingApproval: false
        case .completed, .failed, .cancelled: true
        }
    }

    /// Parses a status, naming the field when it is not one of the five.
    /// - Parameters:
    ///   - text: the status sent.
    ///   - field: the parameter it came in.
    /// - Throws: INVALID_ARGUMENT/INVALID_STATUS.
    public static func parse(_ text: String, field: String) throws -> RunStatus {
        guard let status = RunStatus(rawValue: text) else {
            throw RPCError.invalidParams(
                field: field, "must be one of \(allCases.map(\.rawValue).joined(separator: ", "))", reason: "INVALID_STATUS")
        }
        return status
    }
}
