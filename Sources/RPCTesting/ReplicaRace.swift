import RPC

/// Many replicas' worth of callers on the same rows at once, for the race tests of
/// every store: each replica makes its call at the same moment, and what each was told
/// is kept (an answer, or the RPC error it failed with).
public enum ReplicaRace {
    /// Runs `body` once per replica, all at once: what each call returned, or the reason it failed.
    public static func race<Replica: Sendable, T: Sendable>(
        _ replicas: [Replica], _ body: @escaping @Sendable (Replica, Int) async throws -> T
    ) async -> [Result<T, RPCError>] {
        await withTaskGroup(of: Result<T, RPCError>.self) { group in
            for (index, replica) in replicas.enumerated() {
                group.addTask {
                    do {
                        return .success(try await body(replica, index))
                    } catch let error as RPCError {
                        return .failure(error)
                    } catch {
                        return .failure(RPCError(.internal, reason: "NOT_AN_RPC_ERROR", "\(error)"))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// The reasons of the calls that failed.
    public static func reasons<T>(_ outcomes: [Result<T, RPCError>]) -> [String] {
        outcomes.compactMap { if case .failure(let error) = $0 { error.reason } else { nil } }
    }

    /// What the calls that succeeded returned.
    public static func wins<T>(_ outcomes: [Result<T, RPCError>]) -> [T] {
        outcomes.compactMap { try? $0.get() }
    }
}
